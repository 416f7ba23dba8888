"""Together AI: `{root}/together/v1`. Usage on the finish chunk unasked; its own rate-limit headers."""

from __future__ import annotations

from tests.fakes.providers.answers import new_id
from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, UsageStyle
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind


def limit_headers(exhausted: bool) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "600",
        "x-ratelimit-remaining": "0" if exhausted else "599",
        "x-ratelimit-reset": "1",
        "x-tokenlimit-limit": "180000",
        "x-tokenlimit-remaining": "0" if exhausted else "179000",
    }


ERRORS = OpenAIStyleErrors(
    messages={
        ErrorKind.AUTH_INVALID: "Invalid API key provided. You can find your API key at "
        "https://api.together.xyz/settings/api-keys."
    },
    retry_after_ms=False,
    limit_headers=limit_headers,
)
DIALECT = Dialect(
    name="together",
    base_path="/together/v1",
    errors=ERRORS,
    usage=UsageStyle.LAST_CHUNK,
    success_headers=lambda: {"x-request-id": new_id("", 16), **limit_headers(False)},
    models=(
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "openai/gpt-oss-120b",
        "deepseek-ai/DeepSeek-V3",
        "black-forest-labs/FLUX.1-schnell",
    ),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
