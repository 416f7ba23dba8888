"""DeepInfra (providers.md 10): `completion_tokens` sometimes leaves out reasoning tokens; fix that."""

from __future__ import annotations

from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.translate.common import usage_from_openai
from gateway.wire.openai import ChatChunk
from shared.messages.usage import Usage


def fixed_usage(raw: object) -> Usage | None:
    usage = usage_from_openai(raw)
    if usage is not None and usage.reasoning_tokens > usage.completion_tokens:
        usage.completion_tokens += usage.reasoning_tokens
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    return usage


class DeepInfraAdapter(OpenAICompatAdapter):
    name = "deepinfra"

    def chunk_usage(self, chunk: ChatChunk) -> Usage | None:
        return fixed_usage(chunk.usage)

    def response_usage(self, usage: object) -> Usage:
        return fixed_usage(usage) or Usage()
