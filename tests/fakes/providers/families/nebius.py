"""Nebius Token Factory: `{root}/nebius/v1`. Plain OpenAI semantics; usage only when asked."""

from __future__ import annotations

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors

DIALECT = Dialect(
    name="nebius",
    base_path="/nebius/v1",
    errors=OpenAIStyleErrors(retry_after_ms=False),
    models=("meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-V3", "openai/gpt-oss-120b"),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
