"""DeepInfra (providers.md 10): `completion_tokens` sometimes leaves out reasoning tokens; fix that."""

from __future__ import annotations

from typing import Any

from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from shared.messages.usage import Usage


def fixed_usage(raw: Any) -> Usage | None:
    usage = usage_from_openai(raw)
    if usage is not None and usage.reasoning_tokens > usage.completion_tokens:
        usage.completion_tokens += usage.reasoning_tokens
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    return usage


class DeepInfraAdapter(OpenAICompatAdapter):
    name = "deepinfra"

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        return fixed_usage(chunk.get("usage"))

    def response_usage(self, body: dict[str, Any]) -> Usage:
        return fixed_usage(body.get("usage")) or Usage()
