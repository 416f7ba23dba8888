"""Every family the fake serves, in one list (mounting order does not matter: prefixes are disjoint)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes.providers.families import (
    anthropic,
    azure,
    baseten,
    cohere,
    deepinfra,
    fal,
    fireworks,
    gemini,
    groq,
    minimax,
    moonshot,
    nebius,
    openai,
    perplexity,
    pollo,
    together,
    vertex,
    xai,
)

if TYPE_CHECKING:
    from tests.fakes.providers.families.base import Family

ALL_FAMILIES: tuple[Family, ...] = (
    openai.FAMILY,
    anthropic.FAMILY,
    azure.FAMILY,
    groq.FAMILY,
    together.FAMILY,
    fireworks.FAMILY,
    deepinfra.FAMILY,
    baseten.FAMILY,
    nebius.FAMILY,
    perplexity.FAMILY,
    moonshot.FAMILY,
    minimax.FAMILY,
    xai.FAMILY,
    gemini.FAMILY,
    vertex.FAMILY,
    vertex.TOKEN_FAMILY,
    cohere.FAMILY,
    fal.FAMILY,
    pollo.FAMILY,
)
