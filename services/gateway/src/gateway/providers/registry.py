"""The one place adapters are registered: adapter name (= provider id) -> instance.

`base_url_overrides` holds operator overrides; only `vertex-token` (the OAuth token endpoint)
matters here, because every other base URL arrives with its `Target`.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from gateway.providers.anthropic import AnthropicAdapter
from gateway.providers.azure import AzureAdapter
from gateway.providers.base import ProviderAdapter
from gateway.providers.baseten import BasetenAdapter
from gateway.providers.cohere import CohereAdapter
from gateway.providers.deepinfra import DeepInfraAdapter
from gateway.providers.fal import FalAdapter
from gateway.providers.fireworks import FireworksAdapter
from gateway.providers.google import GoogleAdapter
from gateway.providers.groq import GroqAdapter
from gateway.providers.minimax import MiniMaxAdapter
from gateway.providers.moonshot import MoonshotAdapter
from gateway.providers.nebius import NebiusAdapter
from gateway.providers.openai import OpenAIAdapter
from gateway.providers.perplexity import PerplexityAdapter
from gateway.providers.pollo import PolloAdapter
from gateway.providers.together import TogetherAdapter
from gateway.providers.vertex import VertexAdapter
from gateway.providers.xai import XaiAdapter

SIMPLE_ADAPTERS: tuple[type[ProviderAdapter], ...] = (
    OpenAIAdapter,
    AnthropicAdapter,
    GoogleAdapter,
    AzureAdapter,
    GroqAdapter,
    TogetherAdapter,
    FireworksAdapter,
    DeepInfraAdapter,
    BasetenAdapter,
    NebiusAdapter,
    PerplexityAdapter,
    MoonshotAdapter,
    MiniMaxAdapter,
    XaiAdapter,
    FalAdapter,
    PolloAdapter,
    CohereAdapter,
)


def build_adapters(session: aiohttp.ClientSession, base_url_overrides: Mapping[str, str]) -> dict[str, ProviderAdapter]:
    adapters: dict[str, ProviderAdapter] = {cls.name: cls(session) for cls in SIMPLE_ADAPTERS}  # type: ignore[call-arg]
    adapters[VertexAdapter.name] = VertexAdapter(session, base_url_overrides.get("vertex-token"))
    return adapters
