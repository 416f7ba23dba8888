"""Anthropic thinking blocks through the OpenAI format, both ways: out as `thinking_blocks` (whole
and streamed), back from assistant messages unchanged, refused where Anthropic would need them."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from gateway.translate import anthropic
from gateway.translate.anthropic_wire import MessagesResponse
from gateway.translate.responses import ChatDelta, Response, from_chat, parse_request, to_chat, unseal_thinking
from gateway.translate.responses_events import ResponseEventEmitter
from gateway.wire.openai import ChatChunk, ChatCompletion, ChatRequest, ThinkingBlock, encode
from gateway.wire.sse import SseParser
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

THOUGHT = {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EqQBCkYsig=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"}
CALL = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
ON = {"type": "enabled", "budget_tokens": 1024}


def as_json(value: Any) -> Any:
    return msgspec.json.decode(encode(value))


def request(messages: list[Any], **extra: Any) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-6", "messages": messages, **extra}
    return as_json(anthropic.openai_to_anthropic_request(ChatRequest.from_body(body)))


def conversation(assistant: dict[str, Any]) -> list[Any]:
    ask = {"role": "user", "content": "weather in Paris?"}
    return [ask, {"role": "assistant", "content": None, "tool_calls": [CALL], **assistant}, tool_result()]


def tool_result() -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}


def test_thinking_and_redacted_thinking_blocks_come_back_as_thinking_blocks_with_their_signature():
    message = {
        "id": "msg_1",
        "content": [THOUGHT, REDACTED, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    body, _ = anthropic.anthropic_to_openai_response(msgspec.convert(message, MessagesResponse), "claude")
    out = as_json(body)["choices"][0]["message"]
    assert out["thinking_blocks"] == [THOUGHT, REDACTED]
    assert out["reasoning_content"] == THOUGHT["thinking"]


def test_thinking_blocks_sent_back_go_first_in_the_assistant_turn_unchanged():
    sent = request(conversation({"thinking_blocks": [THOUGHT, REDACTED], "reasoning_content": "x"}), thinking=ON)
    assert sent["thinking"] == ON
    assert sent["messages"][1]["content"] == [
        THOUGHT,
        REDACTED,
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]


@pytest.mark.parametrize(
    "assistant",
    [{"reasoning_content": "The user wants the weather."}, {"thinking_blocks": [{**THOUGHT, "signature": None}]}],
    ids=["reasoning-content-only", "unsigned-block"],
)
def test_a_tool_continuation_with_thinking_on_and_no_signed_block_is_refused_naming_thinking_blocks(assistant):
    with pytest.raises(KeyrelayError) as refused:
        request(conversation(assistant), thinking=ON)
    assert refused.value.param == "messages[1].thinking_blocks"


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}])
def test_unsigned_reasoning_is_dropped_where_anthropic_does_not_need_it(thinking):
    extra = {"thinking": thinking} if thinking else {}
    sent = request(conversation({"reasoning_content": "hmm"}), **extra)
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]
    later = [*conversation({"reasoning_content": "hmm"}), {"role": "assistant", "content": "sunny"}]
    later.append({"role": "user", "content": "thanks"})
    sent = request(later, thinking=ON)  # an earlier, finished tool cycle: not required
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]


@pytest.mark.parametrize("thinking", [True, "on", {"type": "sometimes"}])
def test_a_thinking_field_of_the_wrong_shape_is_refused(thinking):
    with pytest.raises(KeyrelayError) as refused:
        request([{"role": "user", "content": "hi"}], thinking=thinking)
    assert refused.value.param == "thinking"


def test_a_thinking_block_of_an_unknown_type_is_refused():
    with pytest.raises(KeyrelayError) as refused:
        request(conversation({"thinking_blocks": [{"type": "musing", "thinking": "x"}]}))
    assert refused.value.param == "messages[1].thinking_blocks"


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_streamed_thinking_arrives_as_reasoning_deltas_then_each_block_whole_with_its_signature():
    start = {"type": "message_start", "message": {"id": "msg_1", "content": [], "usage": {"input_tokens": 3}}}
    events = [
        start,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "The user "}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "wants the weather."},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCkYsig=="}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": REDACTED},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Sunny."}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    translator, parser = anthropic.AnthropicStreamTranslator("anthropic", "claude"), SseParser()
    chunks = [c for event in parser.feed(sse(events)) for c in translator.feed(event)] + translator.end()
    deltas = [as_json(c)["choices"][0]["delta"] for c in chunks]
    for chunk in chunks:
        ChatChunk.from_json(as_json(chunk))
    assert "".join(d.get("reasoning_content", "") for d in deltas) == THOUGHT["thinking"]
    assert [b for d in deltas for b in d.get("thinking_blocks", [])] == [THOUGHT, REDACTED]
    assert "".join(d.get("content") or "" for d in deltas) == "Sunny."


# --- the Responses API: the blocks sealed in a reasoning item's encrypted_content -------------------
def test_a_responses_reasoning_item_seals_the_blocks_and_sending_it_back_restores_them():
    chat = {"id": "c", "choices": [{"message": {"content": None, "reasoning_content": "r", "tool_calls": [CALL]}}]}
    chat["choices"][0]["message"]["thinking_blocks"] = [THOUGHT, REDACTED]
    parsed = parse_request({"model": "m", "input": "weather?"})
    response = as_json(from_chat(msgspec.convert(chat, ChatCompletion), parsed, "claude"))
    reasoning = response["output"][0]
    assert reasoning["type"] == "reasoning"
    items = [{"role": "user", "content": "weather?"}, *response["output"]]
    items.append({"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"})
    again = parse_request({"model": "m", "input": items, "thinking": ON})
    body = to_chat(again, again.input, "anthropic")
    assert body["thinking"] == ON
    assistant = body["messages"][1]
    assert assistant["thinking_blocks"] == [THOUGHT, REDACTED]
    assert assistant["tool_calls"][0]["id"] == "toolu_1"


def test_streamed_thinking_blocks_join_the_open_reasoning_items_encrypted_content():
    emitter = ResponseEventEmitter(Response.start(parse_request({"model": "m", "input": "x"}), "claude"))
    emitter.feed(ChatDelta(reasoning="The user "))
    emitter.feed(ChatDelta(thinking=[msgspec.convert(THOUGHT, ThinkingBlock)]))
    emitter.feed(ChatDelta(thinking=[msgspec.convert(REDACTED, ThinkingBlock)]))
    emitter.feed(ChatDelta(text="Sunny."))
    emitter.finish(Usage())
    [reasoning, message] = as_json(emitter.response)["output"]
    assert message["type"] == "message"
    assert unseal_thinking(reasoning["encrypted_content"]) == [THOUGHT, REDACTED]


def test_encrypted_content_the_gateway_did_not_seal_is_ignored_and_a_tampered_seal_refused():
    items: list[Any] = [{"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABo-openai-own"}]
    items.append({"role": "user", "content": "hi"})
    parsed = parse_request({"model": "m", "input": items})
    assert [m["role"] for m in to_chat(parsed, parsed.input, "anthropic")["messages"]] == ["user"]
    items[0]["encrypted_content"] = "keyrelay.thinking:!!not-base64!!"
    parsed = parse_request({"model": "m", "input": items})
    with pytest.raises(KeyrelayError) as refused:
        to_chat(parsed, parsed.input, "anthropic")
    assert refused.value.param == "input"
