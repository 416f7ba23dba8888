"""OpenAI itself (providers.md 2): the canonical format; `max_tokens` is sent as `max_completion_tokens`."""

from __future__ import annotations

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.wire.chat_body import ChatPayload


class OpenAIAdapter(OpenAICompatAdapter):
    """Also serves custom hosts speaking the OpenAI format (they keep `max_tokens` as sent)."""

    name = "openai"

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        payload = super().prepare(payload, target, stream)
        if target.provider == "openai" and "max_completion_tokens" not in payload:
            payload.rename("max_tokens", "max_completion_tokens")
        return payload
