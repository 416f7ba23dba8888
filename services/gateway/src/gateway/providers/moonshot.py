"""Moonshot / Kimi (providers.md 14): usage may sit inside `choices[0]` and be repeated; last wins."""

from __future__ import annotations

from typing import Any

from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from shared.messages.usage import Usage


class MoonshotAdapter(OpenAICompatAdapter):
    name = "moonshot"

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and isinstance(choice.get("usage"), dict):
                return usage_from_openai(choice["usage"])
        return super().chunk_usage(chunk)

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                choice.pop("usage", None)
        return super().normalize_chunk(chunk)
