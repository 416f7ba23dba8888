"""Perplexity (providers.md 13): strict turn alternation, no tools, usage on every chunk, and a
closing `chat.completion.done` chunk instead of `[DONE]`."""

from __future__ import annotations

from typing import Any

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import content_parts

_CHUNK_EXTRAS = ("citations", "search_results", "images", "related_questions")


def merge_turns(messages: list[Any]) -> list[Any]:
    """Consecutive same-role messages become one (their content parts concatenated)."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        if merged and merged[-1].get("role") == message.get("role") and message.get("role") in ("user", "assistant"):
            previous = merged[-1]
            parts = [*content_parts(previous.get("content")), *content_parts(message.get("content"))]
            if all(p.get("type") == "text" for p in parts):
                previous["content"] = "\n\n".join(str(p.get("text", "")) for p in parts)
            else:
                previous["content"] = parts
        else:
            merged.append(dict(message))
    return merged


class PerplexityAdapter(OpenAICompatAdapter):
    name = "perplexity"
    drop_fields = ("tools", "tool_choice", "parallel_tool_calls")

    def prepare(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = super().prepare(body, target, stream)
        if isinstance(payload.get("messages"), list):
            payload["messages"] = merge_turns(payload["messages"])
        return payload

    def is_final_chunk(self, chunk: dict[str, Any]) -> bool:
        return chunk.get("object") == "chat.completion.done"

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        chunk["object"] = "chat.completion.chunk"
        for field in _CHUNK_EXTRAS:
            chunk.pop(field, None)
        return chunk
