"""DeepInfra: `{root}/deepinfra/v1/openai`. `usage.estimated_cost`; Gemma/Gemini models under-count
`completion_tokens` (reasoning tokens left out), as DeepInfra has done."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, UsageStyle
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors


def usage_quirk(usage: dict[str, Any], model: str) -> None:
    usage["estimated_cost"] = round(usage["total_tokens"] * 2.7e-7, 10)
    if any(name in model.lower() for name in ("gemma", "gemini")):
        usage["completion_tokens_details"]["reasoning_tokens"] = usage["completion_tokens"] + 5


DIALECT = Dialect(
    name="deepinfra",
    base_path="/deepinfra/v1/openai",
    errors=OpenAIStyleErrors(retry_after_ms=False),
    usage=UsageStyle.LAST_CHUNK,
    usage_quirk=usage_quirk,
    models=("meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepseek-ai/DeepSeek-V3", "google/gemma-3-27b-it"),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
