"""Perplexity (providers.md 13): no tools, strict turn alternation, usage (with its own `cost`) on
every chunk, citations and search results beside the answer, and a closing `chat.completion.done`
chunk instead of `[DONE]`.

Perplexity refuses `tools`, assistant `tool_calls` and `role: tool` turns, and any conversation
whose turns after the system message(s) do not alternate user/assistant starting and ending with
the user. An agent conversation is therefore folded into text it accepts: a tool call becomes a
line of the assistant's turn, a tool result a line of a user turn, later system/developer turns
user text, and consecutive same-role turns are merged. Messages are the client's JSON objects.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from gateway.wire.chat_body import ChatPayload
from gateway.wire.openai import ChatChunk
from shared.messages.usage import Usage

CONTINUE = "(continue)"


def _parts(content: object) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _plain_text(part: object) -> bool:
    """A text part with nothing but its text (its text can join others' without losing a field)."""
    if not isinstance(part, dict) or set(part) != {"type", "text"}:
        return False
    return part["type"] == "text" and isinstance(part["text"], str)


def _text(content: object) -> str:
    """The text of a content value (its text parts joined)."""
    parts = _parts(content)
    return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _tool_call_lines(message: dict[str, Any], names: dict[str, str]) -> list[str]:
    """One line per tool call; `names` learns each call's id -> tool name for the results."""
    lines = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        function = function if isinstance(function, dict) else {}
        name = function.get("name") if isinstance(function.get("name"), str) else "tool"
        raw = function.get("arguments")
        arguments = raw if isinstance(raw, str) else "" if raw is None else msgspec.json.encode(raw).decode()
        if isinstance(call, dict) and isinstance(call.get("id"), str):
            names[call["id"]] = str(name)
        lines.append(f"[called tool {name} with {arguments or '{}'}]")
    return lines


def fold_tool_turns(messages: list[Any]) -> list[Any]:
    """Tool calls, tool results and late system turns as plain user/assistant text."""
    out: list[Any] = []
    names: dict[str, str] = {}
    leading = True
    for message in messages:
        if not isinstance(message, dict):
            out.append(message)  # not a message: Perplexity refuses it with its own 400
            continue
        role = "system" if message.get("role") == "developer" else message.get("role")
        if role == "system" and leading:
            out.append({**message, "role": "system"})
            continue
        leading = False
        if role == "assistant" and message.get("tool_calls"):
            text = "\n".join(t for t in (_text(message.get("content")), *_tool_call_lines(message, names)) if t)
            kept = {k: v for k, v in message.items() if k not in ("tool_calls", "function_call")}
            out.append({**kept, "content": text or CONTINUE})
        elif role in ("tool", "function"):
            call_id = message.get("tool_call_id")
            name = message.get("name") or names.get(call_id if isinstance(call_id, str) else "", "the tool")
            out.append({"role": "user", "content": f"[result of {name}]\n{_text(message.get('content'))}"})
        elif role == "system":
            out.append({"role": "user", "content": _text(message.get("content"))})
        else:
            out.append(message)
    return out


def merge_turns(messages: list[Any]) -> list[Any]:
    """Consecutive same-role user or assistant messages (JSON objects, changed in place) become one:
    their content parts concatenated, or their texts joined when all are plain text parts (a part
    with more fields than its text stays a part, its fields intact)."""
    merged: list[Any] = []
    for message in messages:
        previous = merged[-1] if merged else None
        role = message.get("role") if isinstance(message, dict) else None
        if isinstance(previous, dict) and role in ("user", "assistant") and previous.get("role") == role:
            parts = [*_parts(previous.get("content")), *_parts(message.get("content"))]
            previous["content"] = "\n\n".join(p["text"] for p in parts) if all(map(_plain_text, parts)) else parts
        else:
            merged.append(message)
    return merged


def alternate(messages: list[Any]) -> list[Any]:
    """Fold, merge, and make the turns after the system message(s) start and end with the user."""
    turns = merge_turns(fold_tool_turns(messages))
    role = [m.get("role") if isinstance(m, dict) else None for m in turns]
    first = next((i for i, r in enumerate(role) if r != "system"), len(turns))
    if first == len(turns) or role[first] != "user":
        turns.insert(first, {"role": "user", "content": CONTINUE})
    last = turns[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        turns.append({"role": "user", "content": CONTINUE})
    return turns


def reported_usage(raw: Any) -> Usage | None:
    """Token counts, plus Perplexity's own `cost.total_cost` (search fees included) when present."""
    usage = usage_from_openai(raw)
    if usage is not None and isinstance(raw, dict):
        cost = raw.get("cost")
        total = cost.get("total_cost") if isinstance(cost, dict) else None
        if isinstance(total, int | float) and not isinstance(total, bool) and total >= 0:
            usage.cost_usd = float(total)
    return usage


class PerplexityAdapter(OpenAICompatAdapter):
    name = "perplexity"
    drop_fields = ("tools", "tool_choice", "parallel_tool_calls")

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        payload = super().prepare(payload, target, stream)
        messages = payload.get("messages")
        if isinstance(messages, list):
            payload.set("messages", alternate(messages))
        return payload

    def chunk_usage(self, chunk: ChatChunk) -> Usage | None:
        return reported_usage(chunk.usage)

    def response_usage(self, usage: object) -> Usage:
        return reported_usage(usage) or Usage()

    def is_final_chunk(self, chunk: ChatChunk) -> bool:
        return chunk.object == "chat.completion.done"

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        """The closing chunk becomes an ordinary one; citations and search results stay on the chunks."""
        chunk.object = "chat.completion.chunk"
        return chunk
