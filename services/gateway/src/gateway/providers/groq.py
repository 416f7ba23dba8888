"""Groq (providers.md 7): rejects some OpenAI fields and `name` on messages; `service_tier` `default`
is its `on_demand`; usage in `x_groq.usage`; reasoning in `reasoning` (moved to `reasoning_content`
by the shared base)."""

from __future__ import annotations

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from gateway.wire.chat_body import ChatPayload
from gateway.wire.openai import ChatChunk
from shared.messages.usage import Usage


class GroqAdapter(OpenAICompatAdapter):
    name = "groq"
    drop_fields = ("logprobs", "logit_bias", "top_logprobs", "n")

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        payload = super().prepare(payload, target, stream)
        messages = payload.get("messages")
        for message in messages if isinstance(messages, list) else ():
            if isinstance(message, dict):
                message.pop("name", None)
        if payload.get("service_tier") == "default":  # OpenAI's name for Groq's `on_demand`
            payload.set("service_tier", "on_demand")
        return payload

    def chunk_usage(self, chunk: ChatChunk) -> Usage | None:
        x_groq = chunk.get_extra("x_groq")
        groq = usage_from_openai(x_groq.get("usage")) if isinstance(x_groq, dict) else None
        return usage_from_openai(chunk.usage) or groq

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        chunk.drop_extra("x_groq")
        return super().normalize_chunk(chunk)
