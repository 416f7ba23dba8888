"""OpenAI-compatible vendors: each one's quirks, nothing else (providers.md sections 6-16)."""

from __future__ import annotations

from typing import Any, ClassVar

from gateway.providers.base import Credential, Target
from gateway.providers.openai_compat import OpenAICompatAdapter, usage_from
from shared.messages.usage import Usage


class OpenAIAdapter(OpenAICompatAdapter):
    name = "openai"


class AzureAdapter(OpenAICompatAdapter):
    """`api-key` header; deployment in the path; `api-version` query (or the v1 surface)."""

    name = "azure"

    def headers(self, cred: Credential) -> dict[str, str]:
        out = super().headers(cred)
        out.pop("authorization", None)
        if cred.api_key is not None:
            out["api-key"] = cred.api_key.reveal()
        return out

    def url(self, target: Target, path: str) -> str:
        base = target.base_url.rstrip("/")
        deployment = target.options.get("deployment", target.model)
        version = target.options.get("api_version", "2024-10-21")
        return f"{base}/deployments/{deployment}{path}?api-version={version}"


class GroqAdapter(OpenAICompatAdapter):
    name = "groq"

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        x_groq = chunk.get("x_groq")
        return usage_from(chunk.get("usage")) or (usage_from(x_groq.get("usage")) if isinstance(x_groq, dict) else None)

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        chunk.pop("x_groq", None)
        return super().normalize_chunk(chunk)


class MoonshotAdapter(OpenAICompatAdapter):
    name = "moonshot"

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        choices = chunk.get("choices") or []
        if choices and isinstance(choices[0], dict) and choices[0].get("usage"):
            return usage_from(choices[0]["usage"])
        return super().chunk_usage(chunk)

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                choice.pop("usage", None)
        return super().normalize_chunk(chunk)


class PerplexityAdapter(OpenAICompatAdapter):
    """Usage on every chunk (the last wins); the closing chunk is `chat.completion.done`."""

    name = "perplexity"
    final_chunk_ends_stream: ClassVar[bool] = True

    def is_final_chunk(self, chunk: dict[str, Any]) -> bool:
        return chunk.get("object") == "chat.completion.done"

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        if chunk.get("object") == "chat.completion.done":
            chunk["object"] = "chat.completion.chunk"
        for key in ("citations", "search_results", "cost"):
            chunk.pop(key, None)
        return super().normalize_chunk(chunk)


def _simple(vendor: str) -> type[OpenAICompatAdapter]:
    return type(f"{vendor.title()}Adapter", (OpenAICompatAdapter,), {"name": vendor})


SIMPLE_VENDORS = ("together", "fireworks", "deepinfra", "baseten", "nebius", "minimax", "xai")
VENDOR_ADAPTERS: list[type[OpenAICompatAdapter]] = [
    OpenAIAdapter, AzureAdapter, GroqAdapter, MoonshotAdapter, PerplexityAdapter,
    *(_simple(v) for v in SIMPLE_VENDORS),
]
