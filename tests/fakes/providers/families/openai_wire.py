"""Build OpenAI `chat.completion` bodies and `chat.completion.chunk` streams with a dialect's quirks."""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.fakes.providers.answers import Answer, split_in, split_text
from tests.fakes.providers.families.openai_dialect import Dialect, Reasoning, UsageStyle
from tests.fakes.providers.sse import DONE, SseEvent, StreamPlan

SAFE_FILTERS = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")}
PROMPT_FILTERS = [{"prompt_index": 0, "content_filter_results": SAFE_FILTERS}]
MID_STREAM_ERROR = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}


def finish_reason(answer: Answer) -> str:
    return "tool_calls" if answer.tool_calls else "stop"


def usage_body(dialect: Dialect, model: str, answer: Answer) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": answer.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    dialect.usage_quirk(usage, model)
    return usage


def reasoning_detail(text: str) -> dict[str, Any]:
    """One MiniMax `reasoning_details` item (streams send one per piece, the text cumulative per id)."""
    return {
        "type": "reasoning.text",
        "id": "reasoning-text-1",
        "format": "MiniMax-response-v1",
        "index": 0,
        "text": text,
    }


def _tool_call(call_index: int, answer: Answer) -> dict[str, Any]:
    call = answer.tool_calls[call_index]
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_json}}


def _message(dialect: Dialect, answer: Answer) -> dict[str, Any]:
    content: str | None = answer.text or None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if answer.reasoning and dialect.reasoning is not Reasoning.HIDDEN:
        if dialect.reasoning is Reasoning.THINK_TAGS:
            message["content"] = f"<think>{answer.reasoning}</think>{answer.text}"
        elif dialect.reasoning is Reasoning.DETAILS:
            message["reasoning_details"] = [reasoning_detail(answer.reasoning)]
        else:
            message[dialect.reasoning.value] = answer.reasoning
    if answer.tool_calls:
        message["tool_calls"] = [_tool_call(i, answer) for i in range(len(answer.tool_calls))]
    return message


def completion_body(dialect: Dialect, model: str, answer: Answer, completion_id: str) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "message": _message(dialect, answer),
        "logprobs": None,
        "finish_reason": finish_reason(answer),
    }
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake0001",
        "choices": [choice],
        "usage": usage_body(dialect, model, answer),
    }
    if dialect.content_filters:
        choice["content_filter_results"] = SAFE_FILTERS
        body["prompt_filter_results"] = PROMPT_FILTERS
    body.update(dialect.body_extras(model))
    return body


def _deltas(dialect: Dialect, answer: Answer) -> list[dict[str, Any]]:
    """The content-carrying deltas, in order: reasoning, text, then interleaved tool-call fragments."""
    deltas: list[dict[str, Any]] = []
    if answer.reasoning and dialect.reasoning is Reasoning.THINK_TAGS:
        deltas += [{"content": piece} for piece in split_text(f"<think>{answer.reasoning}</think>")]
    elif answer.reasoning and dialect.reasoning is Reasoning.DETAILS:
        deltas += [{"reasoning_details": [reasoning_detail(piece)]} for piece in split_text(answer.reasoning)]
    elif answer.reasoning and dialect.reasoning is not Reasoning.HIDDEN:
        deltas += [{dialect.reasoning.value: piece} for piece in split_text(answer.reasoning)]
    if answer.text:
        deltas += [{"content": piece} for piece in split_text(answer.text)]
    fragments = [split_in(call.arguments_json, 3) for call in answer.tool_calls]
    for i, call in enumerate(answer.tool_calls):
        head = {"index": i, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        deltas.append({"tool_calls": [head]})
    for round_ in range(max((len(f) for f in fragments), default=0)):
        for i, parts in enumerate(fragments):
            if round_ < len(parts):
                deltas.append({"tool_calls": [{"index": i, "function": {"arguments": parts[round_]}}]})
    return deltas


class _Chunks:
    """Stamps id/created/model (and quirk fields) on every chunk of one stream."""

    def __init__(self, dialect: Dialect, model: str, completion_id: str, include_usage: bool) -> None:
        self.dialect, self.model, self.id = dialect, model, completion_id
        self.created = int(time.time())
        self.include_usage = include_usage
        self.groq_id = "req_" + secrets.token_hex(8)

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake0001",
            "choices": choices,
        }
        if self.dialect.usage is UsageStyle.REQUESTED and self.include_usage:
            body["usage"] = None
        if self.dialect.obfuscation:
            body["obfuscation"] = secrets.token_urlsafe(6)
        body.update(extra)
        return body

    def delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if self.dialect.content_filters and delta:
            choice["content_filter_results"] = SAFE_FILTERS
        return self.chunk([choice], **extra)


def _finish_chunks(c: _Chunks, answer: Answer, usage: dict[str, Any]) -> list[dict[str, Any]]:
    """The finish chunk(s) with usage where this dialect puts it."""
    style, finish = c.dialect.usage, finish_reason(answer)
    if style is UsageStyle.LAST_CHUNK:
        return [c.delta({}, finish, usage=usage)]
    if style is UsageStyle.GROQ:
        timing = {"queue_time": 0.01, "prompt_time": 0.001, "completion_time": 0.02, "total_time": 0.03}
        extra: dict[str, Any] = {"x_groq": {"id": c.groq_id, "usage": {**usage, **timing}}}
        if c.include_usage:
            extra["usage"] = usage
        return [c.delta({}, finish, **extra)]
    if style is UsageStyle.MOONSHOT:
        choice = {"index": 0, "delta": {}, "finish_reason": finish, "usage": usage}
        chunks = [c.chunk([choice], usage=usage)]
        return [*chunks, c.chunk([], usage=usage)] if c.include_usage else chunks
    if style is UsageStyle.PERPLEXITY:
        return [c.delta({}, finish, object="chat.completion.done", usage=usage, **c.dialect.body_extras(c.model))]
    chunks = [c.delta({}, finish)]
    return [*chunks, c.chunk([], usage=usage)] if c.include_usage else chunks


def stream_plan(dialect: Dialect, model: str, answer: Answer, completion_id: str, include_usage: bool) -> StreamPlan:
    c = _Chunks(dialect, model, completion_id, include_usage)
    usage = usage_body(dialect, model, answer)
    first_extra: dict[str, Any] = {"x_groq": {"id": c.groq_id}} if dialect.usage is UsageStyle.GROQ else {}
    every: dict[str, Any] = {}
    if dialect.usage is UsageStyle.PERPLEXITY:
        every = {"usage": usage, **dialect.body_extras(model)}
    chunks: list[dict[str, Any]] = []
    if dialect.content_filters:
        chunks.append(
            {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": PROMPT_FILTERS}
        )
    chunks.append(c.delta({"role": "assistant", "content": ""}, **first_extra, **every))
    chunks += [c.delta(delta, **every) for delta in _deltas(dialect, answer)]
    chunks += _finish_chunks(c, answer, usage)
    events = [SseEvent.of(chunk) for chunk in chunks]
    ends = 1
    if dialect.usage is not UsageStyle.PERPLEXITY:
        events.append(DONE)
    malformed = SseEvent(
        f'{{"id":"{completion_id}","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{{"content":"br'.encode()
    )
    return StreamPlan(events, ends, malformed, SseEvent.of(MID_STREAM_ERROR))
