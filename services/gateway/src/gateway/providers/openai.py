"""OpenAI itself (providers.md 2): the canonical format; `max_tokens` is sent as `max_completion_tokens`."""

from __future__ import annotations

from typing import Any

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter


class OpenAIAdapter(OpenAICompatAdapter):
    """Also serves custom hosts speaking the OpenAI format (they keep `max_tokens` as sent)."""

    name = "openai"

    def prepare(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = super().prepare(body, target, stream)
        if target.provider == "openai" and "max_tokens" in payload and "max_completion_tokens" not in payload:
            payload["max_completion_tokens"] = payload.pop("max_tokens")
        return payload
