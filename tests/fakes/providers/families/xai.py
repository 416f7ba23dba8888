"""xAI: `{root}/xai/v1`. A bad key is a 400 `{"code": ..., "error": "Incorrect API key provided..."}`
(as the real API answers); other errors use the `{code, error}` form too."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import ALL_ENDPOINTS, Dialect
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind

_INVALID_ARGUMENT = "Client specified an invalid argument"


def _coded(status: int, code: str) -> tuple[int, Any]:
    return status, lambda message: {"code": code, "error": message}


ERRORS = OpenAIStyleErrors(
    overrides={
        ErrorKind.AUTH_MISSING: _coded(400, _INVALID_ARGUMENT),
        ErrorKind.AUTH_INVALID: _coded(400, _INVALID_ARGUMENT),
        ErrorKind.BAD_REQUEST: _coded(400, _INVALID_ARGUMENT),
        ErrorKind.CONTEXT_LENGTH: _coded(400, _INVALID_ARGUMENT),
        ErrorKind.NOT_FOUND: _coded(404, "Some requested entity was not found"),
        ErrorKind.RATE_LIMITED: _coded(429, "Some resource has been exhausted"),
        ErrorKind.QUOTA: _coded(429, "Some resource has been exhausted"),
        ErrorKind.SERVER_ERROR: _coded(500, "Internal error"),
        ErrorKind.UNAVAILABLE: _coded(503, "The service is currently unavailable"),
    },
    messages={
        ErrorKind.AUTH_MISSING: "No API key provided. You can obtain an API key from https://console.x.ai.",
        ErrorKind.AUTH_INVALID: "Incorrect API key provided: xa***ey. You can obtain an API key from "
        "https://console.x.ai.",
        ErrorKind.CONTEXT_LENGTH: "This model's maximum prompt length is 131072 but the request contains "
        "140000 tokens.",
        ErrorKind.QUOTA: "Your team has either used all available credits or reached its monthly spending limit.",
    },
    retry_after_ms=False,
)
DIALECT = Dialect(
    name="xai",
    base_path="/xai/v1",
    errors=ERRORS,
    models=("grok-4.5", "grok-4.3", "grok-4-1-fast-reasoning", "grok-code-fast-1", "grok-imagine-image"),
    endpoints=ALL_ENDPOINTS | {"responses"},  # `/responses` too (providers.md 2.1, 16)
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
