"""OpenAI-format stream chunks that need no normalising pass through as the upstream's bytes; the
rest (role missing, usage, a repeated finish, vendor hooks) still take the full path."""

from __future__ import annotations

import json
from typing import Any, cast

import aiohttp

from gateway.providers.groq import GroqAdapter
from gateway.providers.openai import OpenAIAdapter
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.streaming import OpenAIStreamFormat
from gateway.wire.openai import WireChunk
from gateway.wire.sse import SseEvent

NO_SESSION = cast("aiohttp.ClientSession", None)  # these tests never reach the network
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return json.dumps(body, separators=(",", ":"))


def relayed(adapter: OpenAICompatAdapter, events: list[str], *, include_usage: bool) -> tuple[list[bytes], list[bool]]:
    """What an OpenAI-format client gets for each chunk, and whether it passed through untouched."""
    normalizer = adapter.normalizer()
    fmt = OpenAIStreamFormat(include_usage)
    out: list[bytes] = []
    passed: list[bool] = []
    for data in events:
        for item in normalizer.feed(SseEvent(None, data)):
            out += fmt.chunk(item)
            passed.append(isinstance(item, WireChunk))
    return out, passed


def test_chunks_that_need_no_change_go_to_the_client_as_the_upstream_sent_them() -> None:
    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}), chunk({}, "stop")]
    out, passed = relayed(OpenAIAdapter(NO_SESSION), events, include_usage=False)
    assert out == [f"data: {e}\n\n".encode() for e in events]
    assert passed == [True, True, True]


def test_openais_null_usage_is_taken_out_unless_the_client_asked_for_usage() -> None:
    events = [chunk({"role": "assistant", "content": "Hi"}, usage=None), chunk({}, "stop", usage=None)]
    out, _ = relayed(OpenAIAdapter(NO_SESSION), events, include_usage=False)
    assert [json.loads(line[6:]) for line in out] == [
        {k: v for k, v in json.loads(e).items() if k != "usage"} for e in events
    ]
    asked, passed = relayed(OpenAIAdapter(NO_SESSION), events, include_usage=True)
    assert asked == [f"data: {e}\n\n".encode() for e in events]
    assert passed == [True, True]


def test_a_chunk_that_needs_normalising_still_gets_it() -> None:
    """No role in the first chunk, a usage report, a repeated finish: the full path, as before."""
    events = [
        chunk({"content": "Hi"}),
        chunk({"content": "!"}),
        chunk({}, "stop"),
        chunk({}, "stop"),
        json.dumps({"id": "chatcmpl-1", "choices": [], "usage": USAGE}),
    ]
    normalizer = OpenAIAdapter(NO_SESSION).normalizer()
    out, passed = relayed(OpenAIAdapter(NO_SESSION), events, include_usage=False)
    sent = [json.loads(line[6:]) for line in out]
    assert sent[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    assert sent[0]["system_fingerprint"] == "fp_1", "unknown fields still pass through on the full path"
    assert [s["choices"][0]["finish_reason"] for s in sent] == [None, None, "stop"]
    assert passed == [False, True, True]
    for data in events:
        normalizer.feed(SseEvent(None, data))
    assert normalizer.usage is not None
    assert normalizer.usage.total_tokens == 6


def test_a_vendor_with_stream_hooks_of_its_own_never_passes_chunks_through() -> None:
    events = [chunk({"role": "assistant", "content": "Hi"}), chunk({}, "stop")]
    _, passed = relayed(GroqAdapter(NO_SESSION), events, include_usage=False)
    assert passed == [False, False]


def test_a_multi_line_event_is_never_passed_through_as_it_came() -> None:
    """An event whose data spans lines would break the client's SSE framing if copied."""
    data = chunk({"role": "assistant", "content": "x"}).replace(',"choices"', ',\n"choices"')
    out, passed = relayed(OpenAIAdapter(NO_SESSION), [data], include_usage=False)
    assert passed == [False]
    assert out[0].count(b"\n") == 2
