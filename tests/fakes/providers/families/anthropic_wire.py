"""Anthropic Messages bodies and SSE streams (also used by Claude on Vertex)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from tests.fakes.providers.answers import (
    Answer,
    Prompt,
    ToolSpec,
    count_words,
    first_property,
    split_in,
    split_text,
    text_of,
)
from tests.fakes.providers.sse import SseEvent, StreamPlan

# Thinking signatures are the fake's own MAC of the thinking text: a block sent back unchanged in a
# later turn verifies, a changed or emptied one is refused, as Anthropic does.
_SIGNING_KEY = secrets.token_bytes(32)
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def prompt_from_messages(body: dict[str, Any]) -> Prompt:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    turns = [m for m in messages if m.get("role") != "system"]  # a system turn instructs, it asks nothing
    last = turns[-1] if turns else {}
    content = last.get("content")
    has_result = isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
    choice = body.get("tool_choice")
    tools = tuple(
        ToolSpec(str(t.get("name", "")), first_property(t.get("input_schema")))
        for t in body.get("tools") or []
        if isinstance(t, dict) and "name" in t
    )
    return Prompt(
        last_text=text_of(content),
        last_is_user=last.get("role") == "user" and not has_result,
        words_in=count_words(text_of(body.get("system")))
        + sum(count_words(text_of(m.get("content"))) for m in messages),
        tools=tools,
        tools_allowed=not (isinstance(choice, dict) and choice.get("type") == "none"),
    )


def thinking_requested(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in {"enabled", "adaptive"}


def stop_reason(answer: Answer) -> str:
    return "tool_use" if answer.tool_calls else "end_turn"


@dataclass(frozen=True, slots=True)
class CacheUse:
    """Prompt-cache tokens of one request: the cached prefix read, or written on first sight."""

    read: int = 0
    write: int = 0


def prompt_cache(body: dict[str, Any], cached: set[str]) -> CacheUse:
    """Anthropic's prompt caching: the prefix (tools, system, messages in that order) up to the
    last block marked `cache_control` is written the first time it is seen and read afterwards."""
    digest, words, prefix = hashlib.sha256(), 0, None
    tools = body.get("tools")
    system = body.get("system")
    blocks: list[Any] = [*(tools if isinstance(tools, list) else [])]
    blocks += system if isinstance(system, list) else [{"type": "text", "text": system}] if system else []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        blocks += content if isinstance(content, list) else [{"type": "text", "text": content}]
    for block in blocks:
        if not isinstance(block, dict):
            continue
        digest.update(json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True).encode())
        words += count_words(text_of(block)) if "input_schema" not in block else 0
        if block.get("cache_control"):
            prefix = (digest.hexdigest(), words)
    if prefix is None:
        return CacheUse()
    key, size = prefix
    if key in cached:
        return CacheUse(read=size)
    cached.add(key)
    return CacheUse(write=size)


def usage(answer: Answer, output_tokens: int | None = None, cache: CacheUse | None = None) -> dict[str, Any]:
    cache = cache or CacheUse()
    return {
        "input_tokens": max(answer.prompt_tokens - cache.read - cache.write, 0),
        "cache_creation_input_tokens": cache.write,
        "cache_read_input_tokens": cache.read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache.write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": answer.completion_tokens if output_tokens is None else output_tokens,
        "service_tier": "standard",
    }


def _signature(thinking: str) -> str:
    mac = hmac.new(_SIGNING_KEY, thinking.encode(), hashlib.sha256).digest()
    return "EqQBCkYIBxgCKkD" + base64.urlsafe_b64encode(mac).decode().rstrip("=")


_THINKING_FIRST = (
    "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` "
    "is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid "
    "this requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def _has_block(message: Any, kind: str) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == kind for b in content)


def _thinking_first_problem(messages: list[Any]) -> str | None:
    """With thinking on, a tool-use turn being continued (tool results last) must start with its thinking."""
    if len(messages) < 2 or not _has_block(messages[-1], "tool_result"):
        return None
    i = len(messages) - 2
    turn = messages[i]
    if not isinstance(turn, dict) or turn.get("role") != "assistant" or not _has_block(turn, "tool_use"):
        return None
    content = turn["content"]
    found = content[0].get("type") if isinstance(content[0], dict) else "text"
    if found in {"thinking", "redacted_thinking"}:
        return None
    return _THINKING_FIRST.format(i=i, found=found)


def signature_problem(messages: list[Any], *, thinking: bool = False) -> str | None:
    """A `thinking` block sent back in an assistant turn must carry its signature unchanged; with
    thinking on, the assistant turn whose tool calls are being answered must start with one."""
    if thinking and (problem := _thinking_first_problem(messages)) is not None:
        return problem
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or message.get("role") != "assistant":
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            if block.get("signature") != _signature(str(block.get("thinking", ""))):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    return None


def content_blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.reasoning:
        blocks.append({"type": "thinking", "thinking": answer.reasoning, "signature": _signature(answer.reasoning)})
    if answer.text:
        blocks.append({"type": "text", "text": answer.text})
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in answer.tool_calls]
    return blocks


def message_body(model: str, answer: Answer, message_id: str, cache: CacheUse | None = None) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(answer),
        "stop_reason": stop_reason(answer),
        "stop_sequence": None,
        "usage": usage(answer, cache=cache),
    }


def _block_events(index: int, block: dict[str, Any]) -> list[SseEvent]:
    """content_block_start, its deltas, content_block_stop for one finished block."""
    kind = block["type"]
    if kind == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_text(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in split_text(block["text"])]
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        raw = SseEvent.of(block["input"]).data.decode()
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in split_in(raw, 3)]
    events = [
        SseEvent.of({"type": "content_block_start", "index": index, "content_block": start}, "content_block_start")
    ]
    events += [
        SseEvent.of({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta") for d in deltas
    ]
    events.append(SseEvent.of({"type": "content_block_stop", "index": index}, "content_block_stop"))
    return events


def stream_plan(model: str, answer: Answer, message_id: str, cache: CacheUse | None = None) -> StreamPlan:
    start = {**message_body(model, answer, message_id), "content": [], "stop_reason": None}
    start["usage"] = usage(answer, output_tokens=1, cache=cache)
    events = [SseEvent.of({"type": "message_start", "message": start}, "message_start")]
    for index, block in enumerate(content_blocks(answer)):
        events += _block_events(index, block)
        if index == 0:
            events.insert(2, SseEvent.of({"type": "ping"}, "ping"))
    final_usage = {k: v for k, v in usage(answer, cache=cache).items() if k not in {"cache_creation", "service_tier"}}
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason(answer), "stop_sequence": None},
        "usage": final_usage,
    }
    events.append(SseEvent.of(delta, "message_delta"))
    events.append(SseEvent.of({"type": "message_stop"}, "message_stop"))
    malformed = SseEvent(
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"br', "content_block_delta"
    )
    return StreamPlan(events, 1, malformed, SseEvent.of(OVERLOADED, "error"))
