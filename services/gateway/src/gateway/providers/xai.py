"""xAI (providers.md 16): OpenAI-compatible; `reasoning_content` already uses the outward name."""

from __future__ import annotations

from gateway.providers.openai_compat import OpenAICompatAdapter


class XaiAdapter(OpenAICompatAdapter):
    name = "xai"
