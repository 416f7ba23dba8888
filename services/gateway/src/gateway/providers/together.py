"""Together AI (providers.md 8): plain OpenAI-compatible; usage is always requested upstream."""

from __future__ import annotations

from gateway.providers.openai_compat import OpenAICompatAdapter


class TogetherAdapter(OpenAICompatAdapter):
    name = "together"
