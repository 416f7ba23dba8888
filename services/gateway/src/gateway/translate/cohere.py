"""OpenAI Chat Completions <-> Cohere v2 chat (providers.md 19, 20.1-20.3, 20.7).

Messages and tools already use the OpenAI shapes; the differences are parameter names
(`p`, `k`, `stop_sequences`), `tool_choice` (`REQUIRED`/`NONE` only), JSON mode, finish reasons,
usage (`billed_units`, falling back to `tokens`) and the stream's kebab-case events.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.providers.errors import interrupted, map_stream_error
from gateway.providers.sse import SseEvent
from gateway.translate.common import (
    ChunkBuilder,
    assistant_message,
    client_request,
    completion_body,
    content_parts,
    loads,
    max_tokens_of,
    single_choice,
    stop_list,
    text_of,
    tool_call,
)
from shared.errors import KeyrelayError, echo
from shared.messages.usage import Usage

FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
_THINKING_BUDGET = {"low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}


# --- request -----------------------------------------------------------------------------------
@client_request
def openai_to_cohere_request(body: dict[str, Any]) -> dict[str, Any]:
    single_choice(body, "Cohere")
    messages = [_message(m) for m in body.get("messages") or []]
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if (max_tokens := max_tokens_of(body)) is not None:
        out["max_tokens"] = max_tokens
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "p"),
        ("seed", "seed"),
        ("frequency_penalty", "frequency_penalty"),
        ("presence_penalty", "presence_penalty"),
    ):
        if isinstance(body.get(src), int | float):
            out[dst] = body[src]
    if stops := stop_list(body.get("stop")):
        out["stop_sequences"] = stops
    _tools(body, out)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        schema = (fmt.get("json_schema") or {}).get("schema")
        out["response_format"] = {"type": "json_object", **({"json_schema": schema} if schema else {})}
    effort = body.get("reasoning_effort")
    if effort in _THINKING_BUDGET:
        out["thinking"] = {"type": "enabled", "token_budget": _THINKING_BUDGET[effort]}
    if body.get("stream"):
        out["stream"] = True
    return out


def _message(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": text_of(message.get("content"))}
    if role == "user":
        content = message.get("content")
        if isinstance(content, str):
            return {"role": "user", "content": content}
        parts = [p for p in content_parts(content) if p.get("type") in ("text", "image_url")]
        return {"role": "user", "content": parts}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        if text := text_of(message.get("content")):
            out["content"] = text
        if message.get("tool_calls"):
            out["tool_calls"] = [
                tool_call(
                    str(c.get("id")),
                    str((c.get("function") or {}).get("name")),
                    str((c.get("function") or {}).get("arguments") or "{}"),
                )
                for c in message["tool_calls"]
            ]
        return out
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.get("tool_call_id"), "content": text_of(message.get("content"))}
    raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):  # no "call this one" in Cohere: require a call and offer only that tool
        name = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if (t.get("function") or {}).get("name") == name]
        choice = "required"
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    k: v for k, v in (t.get("function") or {}).items() if k in ("name", "description", "parameters")
                },
            }
            for t in tools
        ]
        if any((t.get("function") or {}).get("strict") for t in tools):
            out["strict_tools"] = True
        if choice == "required":
            out["tool_choice"] = "REQUIRED"
        elif choice == "none":
            out["tool_choice"] = "NONE"


# --- response ----------------------------------------------------------------------------------
def cohere_usage(raw: Any) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    billed = raw.get("billed_units") if isinstance(raw.get("billed_units"), dict) else {}
    tokens = raw.get("tokens") if isinstance(raw.get("tokens"), dict) else {}
    prompt = int(billed.get("input_tokens") or tokens.get("input_tokens") or 0)
    completion = int(billed.get("output_tokens") or tokens.get("output_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(raw.get("cached_tokens") or 0),
        total_tokens=prompt + completion,
    )


def _finish(reason: Any, provider: str) -> str:
    if reason in ("ERROR", "TIMEOUT"):
        raise interrupted(provider, f"generation failed upstream ({reason})")
    return FINISH_REASONS.get(str(reason), "stop")


def cohere_to_openai_response(
    body: dict[str, Any], model: str, provider: str = "cohere"
) -> tuple[dict[str, Any], Usage]:
    message = body.get("message") or {}
    texts: list[str] = []
    thoughts: list[str] = []
    for item in message.get("content") or []:
        if item.get("type") == "text":
            texts.append(str(item.get("text", "")))
        elif item.get("type") == "thinking":
            thoughts.append(str(item.get("thinking", "")))
    calls = [
        tool_call(
            str(c.get("id")),
            str((c.get("function") or {}).get("name")),
            str((c.get("function") or {}).get("arguments") or "{}"),
        )
        for c in message.get("tool_calls") or []
    ]
    usage = cohere_usage(body.get("usage"))
    finish = _finish(body.get("finish_reason"), provider)
    return completion_body(
        model, assistant_message("".join(texts), calls, "".join(thoughts)), finish, usage, body.get("id")
    ), usage


# --- stream ------------------------------------------------------------------------------------
class CohereStreamTranslator:
    """Cohere v2 stream events -> OpenAI chunks (section 20.7); `message-end` is terminal."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._out = ChunkBuilder(model)
        self._thinking = False
        self.usage: Usage | None = None
        self.finished = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        if not event.data or event.data.strip() == "[DONE]":
            return []
        try:
            data = loads(event.data)
        except msgspec.DecodeError:
            raise interrupted(self._provider, "malformed stream event") from None
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        message = (data.get("delta") or {}).get("message") or {}
        if kind == "message-start":
            if data.get("id"):
                self._out.id = str(data["id"])
            return self._out.role()
        if kind == "content-start":
            self._thinking = (message.get("content") or {}).get("type") == "thinking"
            return []
        if kind == "content-delta":
            content = message.get("content") or {}
            if self._thinking:
                return self._out.reasoning(str(content.get("thinking", "")))
            return self._out.text(str(content.get("text", "")))
        if kind in ("tool-call-start", "tool-call-delta"):
            return self._tool(kind, int(data.get("index", 0)), message.get("tool_calls") or {})
        if kind == "tool-plan-delta":
            return self._out.reasoning(str(message.get("tool_plan", "")))
        if kind == "message-end":
            return self._end(data.get("delta") or {})
        if kind == "error" or (kind is None and "error" in data):
            raise map_stream_error(self._provider, data)
        return []

    def _tool(self, kind: str, index: int, call: dict[str, Any]) -> list[dict[str, Any]]:
        function = call.get("function") or {}
        if kind == "tool-call-start":
            return self._out.tool_start(
                index, str(call.get("id")), str(function.get("name")), str(function.get("arguments") or "")
            )
        return self._out.tool_args(index, str(function.get("arguments") or ""))

    def _end(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        self.finished = True
        if delta.get("usage"):
            self.usage = cohere_usage(delta["usage"])
        if delta.get("error"):
            raise interrupted(self._provider, "generation failed upstream")
        return self._out.finish(_finish(delta.get("finish_reason"), self._provider))

    def end(self) -> list[dict[str, Any]]:
        if not self.finished:
            raise interrupted(self._provider, "stream ended before message-end")
        return []


# --- the reverse direction (tests, and clients that speak Cohere) -------------------------------
def cohere_request_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"model": body.get("model"), "messages": []}
    for message in body.get("messages") or []:
        converted = dict(message)
        converted.pop("tool_plan", None)
        if message.get("role") == "assistant":
            converted.setdefault("content", None)
        out["messages"].append(converted)
    for src, dst in (
        ("max_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("p", "top_p"),
        ("seed", "seed"),
        ("stop_sequences", "stop"),
    ):
        if src in body:
            out[dst] = body[src]
    if body.get("tools"):
        out["tools"] = body["tools"]
    if body.get("tool_choice") in ("REQUIRED", "NONE"):
        out["tool_choice"] = body["tool_choice"].lower()
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        schema = fmt.get("json_schema")
        out["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
            if schema
            else {"type": "json_object"}
        )
    return out
