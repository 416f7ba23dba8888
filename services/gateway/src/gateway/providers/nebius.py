"""Nebius Token Factory (providers.md 12): plain OpenAI-compatible."""

from __future__ import annotations

from gateway.providers.openai_compat import OpenAICompatAdapter


class NebiusAdapter(OpenAICompatAdapter):
    name = "nebius"
