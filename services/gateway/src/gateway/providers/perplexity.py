"""Perplexity (providers.md 13): strict turn alternation, no tools, usage on every chunk, and a
closing `chat.completion.done` chunk instead of `[DONE]`."""

from __future__ import annotations

from typing import Any

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.wire.chat_body import ChatPayload
from gateway.wire.openai import ChatChunk

_CHUNK_EXTRAS = ("citations", "search_results", "images", "related_questions")


def _parts(content: object) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _plain_text(part: object) -> bool:
    """A text part with nothing but its text (its text can join others' without losing a field)."""
    if not isinstance(part, dict) or set(part) != {"type", "text"}:
        return False
    return part["type"] == "text" and isinstance(part["text"], str)


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


class PerplexityAdapter(OpenAICompatAdapter):
    name = "perplexity"
    drop_fields = ("tools", "tool_choice", "parallel_tool_calls")

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        payload = super().prepare(payload, target, stream)
        messages = payload.get("messages")
        if isinstance(messages, list):
            payload.set("messages", merge_turns(messages))
        return payload

    def is_final_chunk(self, chunk: ChatChunk) -> bool:
        return chunk.object == "chat.completion.done"

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        chunk.object = "chat.completion.chunk"
        chunk.drop_extra(*_CHUNK_EXTRAS)
        return chunk
