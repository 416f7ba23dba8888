"""Inbound Anthropic Messages (`POST /v1/messages`) <-> the gateway's internal OpenAI format.

* `anthropic_request_to_openai(body)`: a client's Messages request as an OpenAI chat request.
* `openai_response_to_anthropic(body, model)`: an OpenAI chat.completion as an Anthropic message.
* `AnthropicStreamEmitter`: OpenAI chunks (from any `ChatStream`) -> Anthropic SSE events, as
  `(event_name, data)` pairs; usage is supplied at the end, errors become an `error` event.
"""

from __future__ import annotations

from typing import Any

from gateway.translate.common import (
    TOOL_ERROR_PREFIX,
    client_request,
    data_url,
    dumps,
    function_of,
    new_id,
    tool_arguments,
    usage_from_openai,
)
from gateway.wire.openai import ChatChunk, ChatCompletion, Choice, Json, ToolCall
from shared.errors import ErrorCode, KeyrelayError, echo
from shared.messages.usage import Usage

FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
Event = tuple[str, dict[str, Any]]


# Fields of a Messages request no other format has: refused, never dropped, when translated.
UNTRANSLATABLE_FIELDS = ("container", "mcp_servers", "top_k")
# Anthropic's `service_tier` as OpenAI's: `auto` is both formats' default, `standard_only` is `default`.
SERVICE_TIERS = {"auto": "auto", "standard_only": "default"}
# `context_management` edits a translation honours already: clearing earlier turns' thinking (it
# never carries thinking history; Claude Code sends `clear_thinking_20251015` whenever it thinks).
HONOURED_EDITS = ("clear_thinking_",)
# Blocks the translation carries over; `thinking` / `redacted_thinking` in an assistant turn are
# left out on purpose (their signatures only mean something to Anthropic; the answer never needs them).
# A `document` becomes an OpenAI `file` part (a PDF, as a data URL) or text parts (a text or content
# document); one given by URL or by Anthropic file id, or asking for citations, is refused.
USER_BLOCKS = frozenset({"text", "image", "document", "tool_result"})
ASSISTANT_BLOCKS = frozenset({"text", "tool_use", "thinking", "redacted_thinking"})
# A tool message of the OpenAI format takes only text: a tool result's images and documents follow
# it in a user message (`_user_messages`).
TOOL_RESULT_BLOCKS = frozenset({"text", "image", "document"})
DOCUMENT_SOURCES = frozenset({"base64", "text", "content"})


# --- request -----------------------------------------------------------------------------------
def untranslatable(body: dict[str, Any]) -> KeyrelayError | None:
    """The first part of a Messages request that the OpenAI format cannot carry, as a 400 naming it."""
    for name in UNTRANSLATABLE_FIELDS:
        if body.get(name) is not None:
            return _refusal(name, f"`{name}`")
    if (refusal := _context_management(body.get("context_management"))) is not None:
        return refusal
    for i, tool in enumerate(body.get("tools") or []):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(tool, dict) and _server_tool(tool):
            return _refusal(f"tools[{i}]", f"server tool {echo(kind)}")
    system = body.get("system")
    for i, block in enumerate(system if isinstance(system, list) else []):
        if isinstance(block, dict) and block.get("type") != "text":
            return _refusal(f"system[{i}]", f"system block {echo(block.get('type'))}")
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        allowed = ASSISTANT_BLOCKS if message.get("role") == "assistant" else USER_BLOCKS
        for j, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict):
                continue
            kind, param = block.get("type"), f"messages[{i}].content[{j}]"
            if kind not in allowed:
                return _refusal(param, f"content block {echo(kind)}")
            if kind == "document" and (refusal := _document_refusal(block, param)) is not None:
                return refusal
            inner = block.get("content") if kind == "tool_result" else None
            for k, part in enumerate(inner if isinstance(inner, list) else []):
                if not isinstance(part, dict):
                    continue
                if part.get("type") not in TOOL_RESULT_BLOCKS:
                    return _refusal(f"{param}.content[{k}]", f"{echo(part.get('type'))} block inside a tool_result")
                if part.get("type") == "document" and (refusal := _document_refusal(part, f"{param}.content[{k}]")):
                    return refusal
    service_tier = body.get("service_tier")
    if service_tier is not None and (not isinstance(service_tier, str) or service_tier not in SERVICE_TIERS):
        return _refusal("service_tier", f"service_tier {echo(service_tier)}")
    return None


def _document_refusal(block: dict[str, Any], param: str) -> KeyrelayError | None:
    """A document the OpenAI format cannot carry: by URL or file id (chat `file` parts take only the
    data), or with citations asked for (no other format returns them)."""
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind not in DOCUMENT_SOURCES:
        return _refusal(f"{param}.source", f"a document with source {echo(kind)}")
    citations = block.get("citations")
    if isinstance(citations, dict) and citations.get("enabled"):
        return _refusal(f"{param}.citations", "document citations")
    return None


def _context_management(value: object) -> KeyrelayError | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"edits"} or not isinstance(value.get("edits"), list):
        return _refusal("context_management", "`context_management`")
    edits: list[object] = value["edits"]
    for i, edit in enumerate(edits):
        kind = edit.get("type") if isinstance(edit, dict) else None
        if not (isinstance(kind, str) and kind.startswith(HONOURED_EDITS)):
            return _refusal(f"context_management.edits[{i}]", f"context edit {echo(kind)}")
    return None


def _server_tool(tool: dict[str, Any]) -> bool:
    """Anthropic's own tools (`web_search_20250305`, `bash_20250124`...) carry a `type`; client tools do not."""
    return tool.get("type") not in {None, "custom"}


def _refusal(param: str, what: str) -> KeyrelayError:
    return KeyrelayError(
        ErrorCode.INVALID_REQUEST,
        f"{what} cannot be translated for this target (it is only sent as is to Anthropic-format targets)",
        param=param,
    )


@client_request
def anthropic_request_to_openai(body: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """A Messages request as an OpenAI chat request (for routing to any provider).

    `strict` refuses what the OpenAI format cannot carry (`untranslatable`); without it, those
    parts are left out: only for routing decisions, never for a body sent upstream.
    """
    if strict and (refusal := untranslatable(body)) is not None:
        raise refusal
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    inbound = body.get("messages") or []
    if not isinstance(inbound, list) or not all(isinstance(message, dict) for message in inbound):
        raise KeyrelayError("invalid_request", "messages must be a list of message objects", param="messages")
    for message in inbound:
        role = message.get("role")
        blocks = _blocks(message.get("content"))
        if role == "user":
            messages.extend(_user_messages(blocks))
        elif role == "assistant":
            messages.append(_assistant_message(blocks))
        elif role == "system":
            messages.extend(_system_turn(blocks))
        else:
            raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if isinstance(body.get("max_tokens"), int):
        out["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str):
        out["user"] = user
    tier = body.get("service_tier")
    if isinstance(tier, str) and tier in SERVICE_TIERS:
        out["service_tier"] = SERVICE_TIERS[tier]
    _tools(body, out)
    _output_config(body, out)
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _system_turn(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `system` turn inside `messages` (Claude Code does this for Anthropic's newest models) stays
    a system message in place: OpenAI-format targets take it as is, Anthropic-format and Gemini
    targets get it merged into their system prompt, in order."""
    if any(b.get("type") != "text" for b in blocks):
        raise KeyrelayError(ErrorCode.INVALID_REQUEST, "a system message may only hold text blocks", param="messages")
    text = _text(blocks)
    return [{"role": "system", "content": text}] if text else []


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    raise KeyrelayError("invalid_request", "message content must be a string or a list of blocks", param="messages")


def _text(content: Any) -> str:
    return "".join(str(b.get("text", "")) for b in _blocks(content) if b.get("type") == "text")


def _user_messages(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool results first (OpenAI wants them right after the assistant's calls), then the rest:
    the images and documents of the tool results (a tool message takes only text), then the turn's
    own parts. A failed tool's result (`is_error`) says so at the start of its text."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    attached: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            content = block.get("content")
            inner = _blocks(content) if content else []
            text = _text(inner)
            if block.get("is_error") is True:
                text = TOOL_ERROR_PREFIX + text
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
            for part in inner:
                attached.extend(_media_parts(part))
        else:
            parts.extend(_media_parts(block) if kind != "text" else [_text_part(block)])
    parts = attached + parts
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        merged: Any = "".join(p["text"] for p in parts) if only_text else parts
        out.append({"role": "user", "content": merged})
    return out


def _media_parts(block: dict[str, Any]) -> list[dict[str, Any]]:
    """An image or document block as OpenAI content parts (nothing for other blocks)."""
    kind = block.get("type")
    if kind == "image":
        return [{"type": "image_url", "image_url": {"url": _image_url(block.get("source") or {})}}]
    if kind != "document":
        return []
    source = block.get("source") or {}
    parts: list[dict[str, Any]] = []
    if isinstance(block.get("context"), str) and block["context"]:
        parts.append({"type": "text", "text": block["context"]})
    if source.get("type") == "base64":
        file = {"filename": str(block.get("title") or "document.pdf")}
        file["file_data"] = data_url(str(source.get("media_type") or "application/pdf"), str(source.get("data", "")))
        parts.append({"type": "file", "file": file})
    elif source.get("type") == "text":
        parts.append({"type": "text", "text": str(source.get("data", ""))})
    elif source.get("type") == "content":
        for inner in _blocks(source.get("content")):
            parts.extend(_media_parts(inner) if inner.get("type") != "text" else [_text_part(inner)])
    return parts


def _text_part(block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": str(block.get("text", ""))}


def _image_url(source: dict[str, Any]) -> str:
    if source.get("type") == "base64":
        return data_url(str(source.get("media_type", "image/png")), str(source.get("data", "")))
    if source.get("type") == "url":
        return str(source.get("url", ""))
    raise KeyrelayError("invalid_request", "image source must be base64 or url", param="messages")


def _assistant_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    calls = [
        {
            "id": str(b.get("id")),
            "type": "function",
            "function": {"name": str(b.get("name")), "arguments": dumps(b.get("input") or {})},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name") and not _server_tool(t)]
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema") or {"type": "object", "properties": {}},
                },
            }
            for t in tools
        ]
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False


def _output_config(body: dict[str, Any], out: dict[str, Any]) -> None:
    config = body.get("output_config") or {}
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": fmt.get("schema") or {}},
        }
    effort = config.get("effort") if isinstance(config, dict) else None
    thinking = body.get("thinking")
    if isinstance(effort, str):
        out["reasoning_effort"] = effort
    elif isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = int(thinking.get("budget_tokens") or 0)
        out["reasoning_effort"] = "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


# --- response ----------------------------------------------------------------------------------
def anthropic_usage_json(usage: Usage) -> dict[str, int]:
    """OpenAI-style totals as Anthropic usage (input excludes cache reads and writes)."""
    fresh = max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
    return {
        "input_tokens": fresh,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }


def openai_response_to_anthropic(body: ChatCompletion, model: str) -> dict[str, Any]:
    """An OpenAI chat.completion as an Anthropic message object."""
    choice = body.choices[0] if body.choices else Choice()
    message = choice.message
    content: list[dict[str, Any]] = []
    if message.reasoning_content:
        content.append({"type": "thinking", "thinking": message.reasoning_content, "signature": ""})
    if message.content:
        content.append({"type": "text", "text": message.content})
    for call in message.tool_calls or []:
        function = function_of(call)
        content.append({"type": "tool_use", "id": call.id, "name": function.name, "input": _input(function.arguments)})
    usage = usage_from_openai(body.usage) or Usage()
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(str(choice.finish_reason), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage_json(usage),
    }


def _input(arguments: object) -> Json:
    try:
        return tool_arguments(arguments)
    except KeyrelayError:
        return {}


def error_event(exc: KeyrelayError) -> Event:
    """A gateway error as an Anthropic `error` SSE event (also the shape of an error body)."""
    kind = _ERROR_TYPES.get(exc.status, "api_error")
    if exc.code == "upstream_overloaded":
        kind = "overloaded_error"
    return "error", {"type": "error", "error": {"type": kind, "message": exc.message}}


# --- stream ------------------------------------------------------------------------------------
class AnthropicStreamEmitter:
    """OpenAI chunks -> Anthropic events: message_start, content blocks, message_delta, message_stop.

    Text, reasoning (as `thinking`) and each tool call get their own block; a new block closes the
    open one. Usage is only known at the end, so `message_start` carries zeros and the final
    `message_delta` carries the full (cumulative) usage.
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._open: tuple[str, int] | None = None  # (kind, block index) of the open block
        self._blocks = 0
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool index -> block index
        self._stop_reason = "end_turn"

    def feed(self, chunk: ChatChunk) -> list[Event]:
        events = self._start()
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.reasoning_content:
                events += self._delta("thinking", {"type": "thinking_delta", "thinking": delta.reasoning_content})
            if delta.content:
                events += self._delta("text", {"type": "text_delta", "text": delta.content})
            for call in delta.tool_calls or []:
                events += self._tool(call)
            if choice.finish_reason:
                self._stop_reason = FINISH_TO_STOP.get(choice.finish_reason, "end_turn")
        return events

    def finish(self, usage: Usage | None) -> list[Event]:
        events = [*self._start(), *self._close()]
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
                    "usage": anthropic_usage_json(usage or Usage()),
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def error(self, exc: KeyrelayError) -> list[Event]:
        return [error_event(exc)]

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        index = self._open[1]
        self._open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _begin(self, kind: str, block: dict[str, Any]) -> list[Event]:
        events = self._close()
        index = self._blocks
        self._blocks += 1
        self._open = (kind, index)
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": block}))
        return events

    def _delta(self, kind: str, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if self._open is None or self._open[0] != kind:
            block = (
                {"type": "text", "text": ""}
                if kind == "text"
                else {"type": "thinking", "thinking": "", "signature": ""}
            )
            events = self._begin(kind, block)
        assert self._open is not None  # noqa: S101 - _begin just opened it
        events.append(("content_block_delta", {"type": "content_block_delta", "index": self._open[1], "delta": delta}))
        return events

    def _tool(self, call: ToolCall) -> list[Event]:
        events: list[Event] = []
        index = call.index or 0
        function = function_of(call)
        if index not in self._tool_blocks:
            block = {"type": "tool_use", "id": call.id or new_id("toolu_"), "name": function.name or "", "input": {}}
            events = self._begin("tool", block)
            self._tool_blocks[index] = self._blocks - 1
        fragment = function.arguments
        if fragment:
            # An interleaved fragment for an earlier call keeps its own block index (the SDKs index by it).
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": self._tool_blocks[index],
                        "delta": {"type": "input_json_delta", "partial_json": fragment},
                    },
                )
            )
        return events
