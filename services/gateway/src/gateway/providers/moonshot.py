"""Moonshot / Kimi (providers.md 14): usage may sit inside `choices[0]` and be repeated; last wins."""

from __future__ import annotations

from msgspec import UNSET

from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from gateway.wire.openai import ChatChunk
from shared.messages.usage import Usage


class MoonshotAdapter(OpenAICompatAdapter):
    name = "moonshot"

    def chunk_usage(self, chunk: ChatChunk) -> Usage | None:
        for choice in chunk.choices:
            if isinstance(choice.usage, dict):
                return usage_from_openai(choice.usage)
        return super().chunk_usage(chunk)

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        for choice in chunk.choices:
            choice.usage = UNSET
        return super().normalize_chunk(chunk)
