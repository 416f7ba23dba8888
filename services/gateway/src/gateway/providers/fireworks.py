"""Fireworks AI (providers.md 9): OpenAI-compatible; errors may be plain strings (handled by `errors`)."""

from __future__ import annotations

from gateway.providers.openai_compat import OpenAICompatAdapter


class FireworksAdapter(OpenAICompatAdapter):
    name = "fireworks"
