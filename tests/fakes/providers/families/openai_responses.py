"""`POST {base}/responses`: OpenAI's Responses API as OpenAI (and xAI) serve it.

Input is a string or a list of items (messages with `input_text`/`input_image`/`input_file`/
`output_text` parts, `function_call`, `function_call_output`, `reasoning`); the answer follows the
shared rules (`answers.py`) on the last item: user text is echoed or calls a function tool ("call
tool"), a `function_call_output` is echoed. With `text.format` `json_schema` the text is a JSON
object mapping the schema's first property to the echo. `previous_response_id` names a response
this fake stored (it keeps them like OpenAI does when `store` is not false); an unknown one is
OpenAI's 400. Streams send the documented events with `sequence_number`s, no `[DONE]`.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from tests.fakes.providers.answers import (
    Answer,
    Prompt,
    ToolSpec,
    count_words,
    first_property,
    new_id,
    plan_answer,
    split_text,
)
from tests.fakes.providers.families.openai_compat import wants_reasoning
from tests.fakes.providers.faults import ErrorKind, apply_faults, parse_faults
from tests.fakes.providers.recording import state_of
from tests.fakes.providers.respond import send_json
from tests.fakes.providers.sse import SseEvent, StreamPlan, send_stream

if TYPE_CHECKING:
    from aiohttp import web

    from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes

ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning", "item_reference")
STORED: dict[str, list[Any]] = {}  # response id -> its whole context (input + output items)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p)
    return ""


def problem(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "Missing required parameter: 'model'."
    items = body.get("input")
    if not isinstance(items, str | list):
        return "Invalid type for 'input': expected a string or an array of input items."
    for i, item in enumerate(items if isinstance(items, list) else []):
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind not in ITEM_TYPES:
            return f"Invalid value: '{kind}'. (input[{i}].type)"
    previous = body.get("previous_response_id")
    if previous is not None and previous not in STORED:
        return f"Previous response with id '{previous}' not found."
    return None


def _items(body: dict[str, Any]) -> list[Any]:
    raw = body.get("input")
    items = [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else list(raw)
    previous = body.get("previous_response_id")
    return [*STORED.get(previous, []), *items] if previous else items


def _prompt(body: dict[str, Any], items: list[Any]) -> Prompt:
    last = items[-1] if items else {}
    kind = last.get("type", "message")
    text = str(last.get("output", "")) if kind == "function_call_output" else _text(last.get("content"))
    tools = tuple(
        ToolSpec(str(t.get("name", "")), first_property(t.get("parameters")))
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    )
    words = count_words(str(body.get("instructions") or "")) + sum(
        count_words(_text(i.get("content")) or str(i.get("output", ""))) for i in items if isinstance(i, dict)
    )
    return Prompt(
        last_text=_text(text) if not isinstance(text, str) else text,
        last_is_user=kind == "message" and last.get("role") == "user",
        words_in=words,
        tools=tools,
        tools_allowed=body.get("tool_choice") != "none",
    )


def _answer_text(body: dict[str, Any], answer: Answer) -> str:
    fmt = (body.get("text") or {}).get("format") or {}
    if answer.text and fmt.get("type") == "json_schema":
        return json.dumps({first_property(fmt.get("schema")) or "answer": answer.text})
    if answer.text and fmt.get("type") == "json_object":
        return json.dumps({"answer": answer.text})
    return answer.text


def _output(body: dict[str, Any], answer: Answer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if answer.reasoning:
        out.append({"id": new_id("rs_"), "type": "reasoning", "summary": []})
    if answer.text:
        text = {"type": "output_text", "text": _answer_text(body, answer), "annotations": [], "logprobs": []}
        out.append(
            {"id": new_id("msg_"), "type": "message", "status": "completed", "role": "assistant", "content": [text]}
        )
    out.extend(
        {
            "id": new_id("fc_"),
            "type": "function_call",
            "status": "completed",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments_json,
        }
        for call in answer.tool_calls
    )
    return out


def response_object(body: dict[str, Any], model: str, answer: Answer, status: str, output: list[Any]) -> dict[str, Any]:
    done = status == "completed"
    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "completed_at": int(time.time()) if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": answer.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": answer.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
            "total_tokens": answer.total_tokens,
        }
        if done
        else None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def stream_plan(body: dict[str, Any], model: str, answer: Answer, output: list[dict[str, Any]]) -> StreamPlan:
    final = response_object(body, model, answer, "completed", output)
    start = {**final, "status": "in_progress", "output": [], "usage": None, "completed_at": None}
    payloads: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    for index, item in enumerate(output):
        at = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            empty = {"type": "output_text", "text": "", "annotations": []}
            payloads.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "content": [], "status": "in_progress"},
                }
            )
            payloads.append({"type": "response.content_part.added", **at, "content_index": 0, "part": empty})
            payloads.extend(
                {"type": "response.output_text.delta", **at, "content_index": 0, "delta": piece, "logprobs": []}
                for piece in split_text(text)
            )
            payloads.append(
                {"type": "response.output_text.done", **at, "content_index": 0, "text": text, "logprobs": []}
            )
            payloads.append(
                {"type": "response.content_part.done", **at, "content_index": 0, "part": item["content"][0]}
            )
        elif item["type"] == "function_call":
            payloads.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "arguments": "", "status": "in_progress"},
                }
            )
            payloads.append({"type": "response.function_call_arguments.delta", **at, "delta": item["arguments"]})
            payloads.append(
                {
                    "type": "response.function_call_arguments.done",
                    **at,
                    "name": item["name"],
                    "arguments": item["arguments"],
                }
            )
        else:
            payloads.append({"type": "response.output_item.added", "output_index": index, "item": item})
        payloads.append({"type": "response.output_item.done", "output_index": index, "item": item})
    payloads.append({"type": "response.completed", "response": final})
    events = [SseEvent.of({**p, "sequence_number": n}, p["type"]) for n, p in enumerate(payloads)]
    error = {"type": "error", "code": "server_error", "message": "The server had an error.", "param": None}
    return StreamPlan(
        events=events,
        end_events=1,
        malformed=SseEvent(b'{"type": "response.output_text.delta", ', "response.output_text.delta"),
        error=SseEvent.of({**error, "sequence_number": len(payloads)}, "error"),
    )


async def create_response(routes: OpenAICompatRoutes, request: web.Request) -> web.StreamResponse:
    body, refused = await routes._admit(request)
    if refused is not None:
        return refused
    if (issue := problem(body)) is not None:
        return routes.dialect.errors(ErrorKind.BAD_REQUEST, issue)
    model = routes.model_of(request, body)
    faults = parse_faults(model)
    state = state_of(request)
    if (early := await apply_faults(request, faults, routes.dialect.errors, state, model)) is not None:
        return early
    items = _items(body)
    answer = plan_answer(_prompt(body, items), reasoning=wants_reasoning(model))
    output = _output(body, answer)
    headers = routes.dialect.success_headers()
    if body.get("stream"):
        plan = stream_plan(body, model, answer, output)
        final = json.loads(plan.events[-1].data)["response"]
    else:
        plan = None
        final = response_object(body, model, answer, "completed", output)
    if body.get("store", True) is not False:
        STORED[final["id"]] = [*items, *output]
    if plan is not None:
        return await send_stream(request, plan, faults, state, headers)
    return await send_json(request, final, faults, headers)
