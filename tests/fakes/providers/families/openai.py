"""OpenAI itself: `{root}/openai/v1` with chat (obfuscation padding), embeddings, images, models."""

from __future__ import annotations

from tests.fakes.providers.answers import new_id
from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes, openai_rules
from tests.fakes.providers.families.openai_dialect import ALL_ENDPOINTS, Dialect, Reasoning
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors, openai_limit_headers

MODELS = (
    "gpt-5.5",
    "gpt-5.4",
    "gpt-5.4-mini",
    "gpt-5.4-nano",
    "gpt-4.1",
    "gpt-4o-mini",
    "o4-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "gpt-image-1.5",
)


def success_headers() -> dict[str, str]:
    return {
        "x-request-id": new_id("req_", 16),
        "openai-processing-ms": "42",
        "openai-version": "2020-10-01",
        **openai_limit_headers(False),
    }


DIALECT = Dialect(
    name="openai",
    base_path="/openai/v1",
    errors=OpenAIStyleErrors(limit_headers=openai_limit_headers),
    reasoning=Reasoning.HIDDEN,
    obfuscation=True,
    success_headers=success_headers,
    validate=openai_rules,
    models=MODELS,
    endpoints=ALL_ENDPOINTS | {"responses"},  # `/responses` too (providers.md 2.1, 16)
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
