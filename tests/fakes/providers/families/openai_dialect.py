"""How one OpenAI-compatible provider deviates from OpenAI: auth, usage placement, quirks, errors."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tests.fakes.providers.families.base import bearer

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web

    from tests.fakes.providers.faults import ErrorRenderer


class UsageStyle(StrEnum):
    REQUESTED = "requested"  # usage chunk with `choices: []` only with stream_options.include_usage
    LAST_CHUNK = "last_chunk"  # usage on the finish chunk, always (Together, Fireworks, DeepInfra)
    GROQ = "groq"  # `x_groq.usage` on the finish chunk (+ top-level usage if requested)
    MOONSHOT = "moonshot"  # `choices[0].usage` (+ top-level, + duplicate usage chunk if requested)
    PERPLEXITY = "perplexity"  # usage on every chunk, closing chunk `chat.completion.done`, no [DONE]


class Reasoning(StrEnum):
    CONTENT_FIELD = "reasoning_content"
    GROQ_FIELD = "reasoning"
    THINK_TAGS = "think"  # MiniMax M2: <think>...</think> inside content
    DETAILS = "reasoning_details"  # MiniMax with `reasoning_split: true`: [{type: reasoning.text, text}]
    HIDDEN = "hidden"  # OpenAI/Azure: only `reasoning_tokens` in usage


def no_rules(_body: dict[str, Any]) -> str | None:
    return None


def no_extras(_model: str) -> dict[str, Any]:
    return {}


def no_usage_quirk(_usage: dict[str, Any], _model: str) -> None:
    return None


def no_headers() -> dict[str, str]:
    return {}


def no_reasoning_override(_body: dict[str, Any]) -> Reasoning | None:
    return None


ALL_ENDPOINTS = frozenset({"chat", "embeddings", "images", "models"})


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    base_path: str
    errors: ErrorRenderer
    credential: Callable[[web.Request], str | None] = bearer
    usage: UsageStyle = UsageStyle.REQUESTED
    reasoning: Reasoning = Reasoning.CONTENT_FIELD
    tools: bool = True
    obfuscation: bool = False
    content_filters: bool = False
    success_headers: Callable[[], dict[str, str]] = no_headers
    validate: Callable[[dict[str, Any]], str | None] = no_rules
    body_extras: Callable[[str], dict[str, Any]] = no_extras  # model -> extra top-level fields
    usage_quirk: Callable[[dict[str, Any], str], None] = no_usage_quirk
    models: tuple[str, ...] = ()
    endpoints: frozenset[str] = field(default=ALL_ENDPOINTS)
    always_reasons: bool = False  # every model thinks (MiniMax M2), not only *reason*/*think* names
    reasoning_for: Callable[[dict[str, Any]], Reasoning | None] = no_reasoning_override  # per request

    def for_request(self, body: dict[str, Any]) -> Dialect:
        """This dialect as one request asks for it (MiniMax's `reasoning_split`)."""
        override = self.reasoning_for(body)
        return self if override is None or override is self.reasoning else replace(self, reasoning=override)
