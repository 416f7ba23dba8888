"""Perplexity (providers.md 13): strict turn alternation, no tools, usage on every chunk, and a
closing `chat.completion.done` chunk instead of `[DONE]`."""

from __future__ import annotations

import msgspec

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import content_parts, part_text
from gateway.wire.openai import ChatChunk, ChatRequest, Message

_CHUNK_EXTRAS = ("citations", "search_results", "images", "related_questions")


def merge_turns(messages: list[Message]) -> list[Message]:
    """Consecutive same-role messages become one (their content parts concatenated)."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1].role == message.role and message.role in ("user", "assistant"):
            previous = merged[-1]
            parts = [*content_parts(previous.content), *content_parts(message.content)]
            if all(p.type == "text" for p in parts):
                previous.content = "\n\n".join(part_text(p) for p in parts)
            else:
                previous.content = parts
        else:
            merged.append(msgspec.structs.replace(message))
    return merged


class PerplexityAdapter(OpenAICompatAdapter):
    name = "perplexity"
    drop_fields = ("tools", "tool_choice", "parallel_tool_calls")

    def prepare(self, body: ChatRequest, target: Target, stream: bool) -> ChatRequest:
        payload = super().prepare(body, target, stream)
        payload.messages = merge_turns(payload.messages)
        return payload

    def is_final_chunk(self, chunk: ChatChunk) -> bool:
        return chunk.object == "chat.completion.done"

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        chunk.object = "chat.completion.chunk"
        chunk.drop_extra(*_CHUNK_EXTRAS)
        return chunk
