"""OpenAI Chat Completions -> Anthropic Messages and back (providers.md 3, 20.1-20.5).

Outbound direction, used by the Anthropic and Vertex-Claude adapters:
`openai_to_anthropic_request`, `anthropic_to_openai_response`, `anthropic_usage` and
`AnthropicStreamTranslator` (Anthropic SSE events -> OpenAI chunks).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.providers.errors import interrupted, map_stream_error
from gateway.providers.sse import SseEvent
from gateway.translate.common import (
    DEFAULT_MAX_TOKENS,
    ChunkBuilder,
    assistant_message,
    client_request,
    completion_body,
    content_parts,
    dumps,
    image_url_of,
    loads,
    max_tokens_of,
    parse_data_url,
    single_choice,
    stop_list,
    text_of,
    tool_arguments,
    tool_call,
)
from gateway.translate.system_turns import place_system_turns
from shared.errors import KeyrelayError, echo
from shared.messages.usage import Usage

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
JSON_INSTRUCTION = "Respond with one valid JSON object and nothing else."
_EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})


# --- request -----------------------------------------------------------------------------------
@client_request
def openai_to_anthropic_request(body: dict[str, Any], *, system_turns: bool = False) -> dict[str, Any]:
    """An OpenAI chat request as an Anthropic Messages request (model kept; Vertex drops it).

    System messages join the top-level `system`; with `system_turns` (a model that takes them),
    those after the conversation started stay in place where Anthropic allows (`system_turns.py`).
    """
    single_choice(body, "Anthropic")
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        role = message.get("role")
        if role in ("system", "developer"):
            if (text := text_of(message.get("content"))) and system_turns and messages:
                _append(messages, "system", [{"type": "text", "text": text}])
            elif text:
                system.append(text)
        elif role == "user":
            _append(messages, "user", [_user_block(p) for p in content_parts(message.get("content"))])
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message))
        elif role == "tool":
            _append(messages, "user", [_tool_result(message)])
        else:
            raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")
    if system_turns:
        messages = place_system_turns(messages, system)
    if messages and messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"type": "text", "text": "."}]})
    out: dict[str, Any] = {
        "model": body.get("model"),
        "max_tokens": max_tokens_of(body) or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    _sampling(body, out)
    _tools(body, out)
    _response_format(body, out, system)
    if system:
        out["system"] = "\n\n".join(system)
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("stream"):
        out["stream"] = True
    return out


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Anthropic wants alternating roles: consecutive same-role turns are merged."""
    if not blocks:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _user_block(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "image_url":
        url = image_url_of(part)
        inline = parse_data_url(url)
        if inline is not None:
            return {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise KeyrelayError(
        "invalid_request", f"content part {echo(kind)} is not supported for Anthropic models", param="messages"
    )


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if text := text_of(message.get("content")):
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_arguments(function.get("arguments")),
            }
        )
    return blocks


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": message.get("tool_call_id"),
        "content": text_of(message.get("content")),
    }


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if isinstance(temperature, int | float):
        out["temperature"] = min(max(float(temperature), 0.0), 1.0)
    elif isinstance(top_p, int | float):  # newer models refuse both: temperature wins
        out["top_p"] = top_p
    if stops := stop_list(body.get("stop")):
        out["stop_sequences"] = stops
    effort = body.get("reasoning_effort")
    if effort in _EFFORTS:
        out.setdefault("output_config", {})["effort"] = effort


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(t) for t in tools]
    choice = body.get("tool_choice")
    mapped: dict[str, Any] | None = None
    if choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        mapped = {"type": "tool", "name": name}
    if body.get("parallel_tool_calls") is False and tools:
        mapped = mapped or {"type": "auto"}
        if mapped["type"] != "none":
            mapped["disable_parallel_tool_use"] = True
    if mapped is not None and tools:
        out["tool_choice"] = mapped


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    out: dict[str, Any] = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _response_format(body: dict[str, Any], out: dict[str, Any], system: list[str]) -> None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        out.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}
    elif fmt.get("type") == "json_object":
        system.append(JSON_INSTRUCTION)


# --- response ----------------------------------------------------------------------------------
def anthropic_usage(raw: Any, previous: Usage | None = None) -> Usage:
    """Anthropic usage (input excludes cache reads/writes) as OpenAI-style totals."""
    raw = raw if isinstance(raw, dict) else {}
    base = previous or Usage()
    fresh = raw.get("input_tokens")
    read = raw.get("cache_read_input_tokens")
    write = raw.get("cache_creation_input_tokens")
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    cached = int(read) if isinstance(read, int) else base.cached_tokens
    written = int(write) if isinstance(write, int) else base.cache_write_tokens
    prompt = (int(fresh) + cached + written) if isinstance(fresh, int) else base.prompt_tokens
    output = raw.get("output_tokens")
    completion = int(output) if isinstance(output, int) else base.completion_tokens
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=int(thinking) if isinstance(thinking, int) else base.reasoning_tokens,
        total_tokens=prompt + completion,
    )


def anthropic_to_openai_response(body: dict[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
    """An Anthropic message as an OpenAI chat.completion, plus its usage."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            calls.append(tool_call(str(block.get("id")), str(block.get("name")), dumps(block.get("input") or {})))
    usage = anthropic_usage(body.get("usage"))
    finish = STOP_REASONS.get(str(body.get("stop_reason")), "stop")
    message = assistant_message("".join(texts), calls, "".join(reasoning))
    return completion_body(model, message, finish, usage, body.get("id")), usage


# --- stream ------------------------------------------------------------------------------------
class AnthropicStreamTranslator:
    """Anthropic SSE events -> OpenAI chunks (section 20.5)."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._out = ChunkBuilder(model)
        self._tools: dict[int, int] = {}  # block index -> OpenAI tool index
        self._tool_args_sent: dict[int, bool] = {}
        self._thinking: set[int] = set()
        self._finish = "stop"
        self.usage: Usage | None = None
        self.finished = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        if not event.data or event.data == "[DONE]":
            return []
        try:
            data = loads(event.data)
        except msgspec.DecodeError:
            raise interrupted(self._provider, "malformed stream event") from None
        kind = data.get("type") if isinstance(data, dict) else None
        handler = _HANDLERS.get(str(kind))
        return handler(self, data) if handler else []

    def end(self) -> list[dict[str, Any]]:
        if not self.finished:
            raise interrupted(self._provider, "stream ended before message_stop")
        return []

    def _message_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        message = data.get("message") or {}
        if message.get("id"):
            self._out.id = str(message["id"])
        self.usage = anthropic_usage(message.get("usage"), self.usage)
        return self._out.role()

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block") or {}
        index = int(data.get("index", 0))
        if block.get("type") == "tool_use":
            k = self._tools[index] = len(self._tools)
            self._tool_args_sent[index] = False
            return self._out.tool_start(k, str(block.get("id")), str(block.get("name")))
        if block.get("type") == "text" and block.get("text"):
            return self._out.text(str(block["text"]))
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return self._out.text(str(delta.get("text", "")))
        if kind == "input_json_delta":
            index = int(data.get("index", 0))
            fragment = str(delta.get("partial_json", ""))
            if index not in self._tools or not fragment:
                return []
            self._tool_args_sent[index] = True
            return self._out.tool_args(self._tools[index], fragment)
        if kind == "thinking_delta":
            return self._out.reasoning(str(delta.get("thinking", "")))
        return []

    def _block_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        index = int(data.get("index", 0))
        if index in self._tools and not self._tool_args_sent[index]:
            self._tool_args_sent[index] = True
            return self._out.tool_args(self._tools[index], "{}")  # clients json.loads the arguments
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        reason = (data.get("delta") or {}).get("stop_reason")
        if reason:
            self._finish = STOP_REASONS.get(str(reason), "stop")
        self.usage = anthropic_usage(data.get("usage"), self.usage)
        return []

    def _message_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        del data
        self.finished = True
        return self._out.finish(self._finish)

    def _error(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        raise map_stream_error(self._provider, data)


_HANDLERS = {
    "message_start": AnthropicStreamTranslator._message_start,  # noqa: SLF001
    "content_block_start": AnthropicStreamTranslator._block_start,  # noqa: SLF001
    "content_block_delta": AnthropicStreamTranslator._block_delta,  # noqa: SLF001
    "content_block_stop": AnthropicStreamTranslator._block_stop,  # noqa: SLF001
    "message_delta": AnthropicStreamTranslator._message_delta,  # noqa: SLF001
    "message_stop": AnthropicStreamTranslator._message_stop,  # noqa: SLF001
    "error": AnthropicStreamTranslator._error,  # noqa: SLF001
}

__all__ = [
    "STOP_REASONS",
    "AnthropicStreamTranslator",
    "anthropic_to_openai_response",
    "anthropic_usage",
    "openai_to_anthropic_request",
]
