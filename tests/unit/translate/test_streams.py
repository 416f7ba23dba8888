"""Golden streams: provider SSE bytes in -> normalised OpenAI chunks out; OpenAI chunks -> Anthropic events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.translate.anthropic import AnthropicStreamTranslator
from gateway.translate.anthropic_inbound import AnthropicStreamEmitter
from gateway.translate.cohere import CohereStreamTranslator
from gateway.translate.gemini import GeminiStreamTranslator, decode_call_id
from gateway.wire.errors import ProviderError
from gateway.wire.openai import ChatChunk, encode
from gateway.wire.sse import SseParser
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

GOLDEN = Path(__file__).parent / "golden"
ANTHROPIC = (GOLDEN / "anthropic.sse").read_bytes()  # providers.md 3.4, plus an argument-less tool
GEMINI = (GOLDEN / "gemini.sse").read_bytes()  # providers.md 4.4, plus a thought part
COHERE = (GOLDEN / "cohere.sse").read_bytes()  # providers.md 19.4, plus cached tokens and [DONE]


def run(translator: Any, blob: bytes, step: int = 7) -> list[dict[str, Any]]:
    """Feed the bytes in awkward pieces, as the network would, and collect the chunks (as JSON,
    each checked to be a valid `chat.completion.chunk`, strictly)."""
    parser, chunks = SseParser(), []
    for start in range(0, len(blob), step):
        for event in parser.feed(blob[start : start + step]):
            chunks += translator.feed(event)
    for event in parser.close():
        chunks += translator.feed(event)
    out = [msgspec.json.decode(encode(c)) for c in chunks + translator.end()]
    for item in out:
        ChatChunk.from_json(item)
    return out


def deltas(chunks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    return [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]


def test_anthropic_events_become_openai_chunks():
    """Text, tool_use with input_json_delta, an argument-less tool, stop reason and usage (20.5)."""
    translator = AnthropicStreamTranslator("anthropic", "claude-sonnet-4-6")
    chunks = run(translator, ANTHROPIC)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Checking"}, None),
        (
            {
                "tool_calls": [
                    {"index": 0, "id": "toolu_01C", "type": "function", "function": {"name": "lookup", "arguments": ""}}
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"q": "c'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": 'at"}'}}]}, None),
        (
            {
                "tool_calls": [
                    {"index": 1, "id": "toolu_01D", "type": "function", "function": {"name": "now", "arguments": ""}}
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, None),
        ({}, "tool_calls"),
    ]
    assert {c["id"] for c in chunks} == {"msg_01S"}
    assert translator.usage == Usage(prompt_tokens=410, completion_tokens=27, cached_tokens=100, total_tokens=437)


def test_gemini_events_become_openai_chunks():
    """Text parts, thought parts as reasoning_content, a complete function call, running usage (20.6)."""
    translator = GeminiStreamTranslator("google", "gemini-3.5-flash")
    chunks = run(translator, GEMINI)
    got = deltas(chunks)
    call = got[4][0]["tool_calls"][0]
    assert got[:4] == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, None),
        ({"reasoning_content": "thinking..."}, None),
        ({"content": "lo!"}, None),
    ]
    assert call["function"] == {"name": "lookup", "arguments": '{"q":"cat"}'}
    assert decode_call_id(call["id"])[1] == "EqsF"
    assert got[5] == ({}, "tool_calls")
    assert translator.usage == Usage(prompt_tokens=9, completion_tokens=55, reasoning_tokens=40, total_tokens=64)


def test_cohere_events_become_openai_chunks():
    """Tool plan as reasoning, tool-call start/delta, message-end with billed usage, trailing [DONE] (20.7)."""
    translator = CohereStreamTranslator("cohere", "command-a")
    chunks = run(translator, COHERE)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"reasoning_content": "I will check."}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "get_weather_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]}, None),
        ({}, "tool_calls"),
    ]
    assert translator.usage == Usage(prompt_tokens=20, completion_tokens=8, cached_tokens=5, total_tokens=28)


@pytest.mark.parametrize(
    ("translator", "blob"),
    [
        (AnthropicStreamTranslator("anthropic", "m"), ANTHROPIC.split(b"event: message_stop")[0]),
        (GeminiStreamTranslator("google", "m"), GEMINI.split(b"\n\n")[0] + b"\n\n"),
        (CohereStreamTranslator("cohere", "m"), COHERE.split(b"event: message-end")[0]),
    ],
    ids=["anthropic", "gemini", "cohere"],
)
def test_a_stream_without_its_terminal_event_raises_upstream_error(translator, blob):
    """No message_stop / finishReason / message-end before the body ended: an error, never a quiet end."""
    with pytest.raises(ProviderError) as caught:
        run(translator, blob)
    assert caught.value.code == "upstream_error"


def test_an_anthropic_error_event_raises_the_mapped_error():
    """`event: error` with overloaded_error inside a 200 stream is upstream_overloaded."""
    blob = ANTHROPIC.split(b"event: content_block_start")[0] + (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    with pytest.raises(ProviderError) as caught:
        run(AnthropicStreamTranslator("anthropic", "m"), blob)
    assert caught.value.code == "upstream_overloaded"


def chunk(delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
    return ChatChunk.from_json(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def test_openai_chunks_become_anthropic_events():
    """Role, reasoning, text, two tool calls with argument fragments, finish and usage (inbound /v1/messages)."""
    emitter = AnthropicStreamEmitter("claude-via-gateway")
    events = []
    for item in [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "hmm"}),
        chunk({"content": "Checking"}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": ""}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"cat"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_2", "type": "function", "function": {"name": "now", "arguments": "{}"}}
                ]
            }
        ),
        chunk({}, "tool_calls"),
    ]:
        events += emitter.feed(item)
    events += emitter.finish(Usage(prompt_tokens=50, completion_tokens=9, cached_tokens=20, total_tokens=59))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert starts == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "text", "text": ""},
        {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {}},
        {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
    ]
    fragments = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta" and d["index"] == 2]
    assert "".join(fragments) == '{"q":"cat"}'
    assert all(data["type"] == name for name, data in events)
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"] == {
        "input_tokens": 30,
        "output_tokens": 9,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 20,
    }


def test_a_failed_stream_ends_with_an_anthropic_error_event():
    """A gateway error after the first chunk becomes `event: error` with Anthropic's error types."""
    emitter = AnthropicStreamEmitter("m")
    emitter.feed(chunk({"content": "Hi"}))
    ((name, data),) = emitter.error(KeyrelayError("upstream_overloaded", "anthropic: overloaded"))
    assert name == "error"
    assert data == {"type": "error", "error": {"type": "overloaded_error", "message": "anthropic: overloaded"}}


def test_an_empty_stream_still_produces_a_well_formed_anthropic_message():
    """No chunks at all: message_start, message_delta and message_stop are still emitted."""
    names = [name for name, _ in AnthropicStreamEmitter("m").finish(None)]
    assert names == ["message_start", "message_delta", "message_stop"]
