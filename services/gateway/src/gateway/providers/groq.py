"""Groq (providers.md 7): rejects some OpenAI fields; usage in `x_groq.usage`; reasoning in `reasoning`."""

from __future__ import annotations

from typing import Any

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from shared.messages.usage import Usage


class GroqAdapter(OpenAICompatAdapter):
    name = "groq"
    reasoning_field = "reasoning"
    drop_fields = ("logprobs", "logit_bias", "top_logprobs")

    def prepare(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = super().prepare(body, target, stream)
        payload.pop("n", None)
        messages = payload.get("messages")
        if isinstance(messages, list):
            payload["messages"] = [
                {k: v for k, v in m.items() if k != "name"} if isinstance(m, dict) else m for m in messages
            ]
        return payload

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        x_groq = chunk.get("x_groq")
        groq = usage_from_openai(x_groq.get("usage")) if isinstance(x_groq, dict) else None
        return usage_from_openai(chunk.get("usage")) or groq

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        chunk.pop("x_groq", None)
        return super().normalize_chunk(chunk)
