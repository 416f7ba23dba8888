"""Cohere v2 chat bodies and kebab-case SSE streams (`message-start` ... `message-end`)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.providers.answers import Answer, split_in, split_text
from tests.fakes.providers.sse import DONE, SseEvent, StreamPlan

PROMPT_TEMPLATE_TOKENS = 200  # Cohere's `tokens` include its prompt template; `billed_units` do not


def finish_reason(answer: Answer) -> str:
    return "TOOL_CALL" if answer.tool_calls else "COMPLETE"


def tool_plan(answer: Answer) -> str:
    return f"I will call {', '.join(c.name for c in answer.tool_calls)}." if answer.tool_calls else ""


def usage(answer: Answer) -> dict[str, Any]:
    return {
        "billed_units": {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens},
        "tokens": {
            "input_tokens": answer.prompt_tokens + PROMPT_TEMPLATE_TOKENS,
            "output_tokens": answer.completion_tokens + 2,
        },
        "cached_tokens": 0,
    }


def _tool_calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
        for c in answer.tool_calls
    ]


def chat_body(answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "citations": []}
    if answer.tool_calls:
        message.update({"tool_plan": tool_plan(answer), "tool_calls": _tool_calls(answer), "content": []})
    else:
        message["content"] = [{"type": "text", "text": answer.text}]
    return {"id": str(uuid.uuid4()), "finish_reason": finish_reason(answer), "message": message, "usage": usage(answer)}


def _event(payload: dict[str, Any]) -> SseEvent:
    return SseEvent.of(payload, str(payload["type"]))


def _message(**fields: Any) -> dict[str, Any]:
    return {"message": fields}


def _tool_events(answer: Answer) -> list[SseEvent]:
    events = [
        _event({"type": "tool-plan-delta", "delta": _message(tool_plan=p)}) for p in split_text(tool_plan(answer))
    ]
    for i, call in enumerate(answer.tool_calls):
        head = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        events.append(_event({"type": "tool-call-start", "index": i, "delta": _message(tool_calls=head)}))
        for part in split_in(call.arguments_json, 3):
            delta = _message(tool_calls={"function": {"arguments": part}})
            events.append(_event({"type": "tool-call-delta", "index": i, "delta": delta}))
        events.append(_event({"type": "tool-call-end", "index": i}))
    return events


def _text_events(answer: Answer) -> list[SseEvent]:
    start = _message(content={"type": "text", "text": ""})
    events = [_event({"type": "content-start", "index": 0, "delta": start})]
    events += [
        _event({"type": "content-delta", "index": 0, "delta": _message(content={"text": piece})})
        for piece in split_text(answer.text)
    ]
    events.append(_event({"type": "content-end", "index": 0}))
    return events


def stream_plan(answer: Answer) -> StreamPlan:
    start = _message(role="assistant", content=[], tool_plan="", tool_calls=[], citations=[])
    events = [_event({"id": str(uuid.uuid4()), "type": "message-start", "delta": start})]
    events += _tool_events(answer) if answer.tool_calls else _text_events(answer)
    end = {"finish_reason": finish_reason(answer), "usage": usage(answer)}
    events += [_event({"type": "message-end", "delta": end}), DONE]
    malformed = SseEvent(
        b'{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"br', "content-delta"
    )
    failed = _event(
        {
            "type": "message-end",
            "delta": {"finish_reason": "ERROR", "error": "internal server error, this has been reported"},
        }
    )
    return StreamPlan(events, 2, malformed, failed)
