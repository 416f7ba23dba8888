"""OpenAI itself (providers.md 2): the canonical format; `max_tokens` is sent as `max_completion_tokens`."""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.wire.openai import ChatRequest


class OpenAIAdapter(OpenAICompatAdapter):
    """Also serves custom hosts speaking the OpenAI format (they keep `max_tokens` as sent)."""

    name = "openai"

    def prepare(self, body: ChatRequest, target: Target, stream: bool) -> ChatRequest:
        payload = super().prepare(body, target, stream)
        if target.provider == "openai" and payload.max_tokens is not UNSET and payload.max_completion_tokens is UNSET:
            return msgspec.structs.replace(payload, max_completion_tokens=payload.max_tokens, max_tokens=UNSET)
        return payload
