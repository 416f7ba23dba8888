"""MiniMax (OpenAI surface): `{root}/minimax/v1`. Every M2 model thinks: `<think>` tags inside
content, or `reasoning_details` (and clean content) when the request sets `reasoning_split: true`;
errors carry `http_code` and a MiniMax `(NNNN)` code in the message; 1008 = insufficient balance."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers.answers import new_id
from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, Reasoning
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind


def _minimax(http_code: int, type_: str) -> tuple[int, Any]:
    def body(message: str) -> dict[str, Any]:
        return {"error": {"http_code": str(http_code), "message": message, "type": type_}, "request_id": new_id("", 16)}

    return http_code, body


ERRORS = OpenAIStyleErrors(
    overrides={
        ErrorKind.AUTH_MISSING: _minimax(401, "authorized_error"),
        ErrorKind.AUTH_INVALID: _minimax(401, "authorized_error"),
        ErrorKind.RATE_LIMITED: _minimax(429, "rate_limit_error"),
        ErrorKind.QUOTA: _minimax(429, "insufficient_balance_error"),
        ErrorKind.BAD_REQUEST: _minimax(400, "bad_request_error"),
        ErrorKind.CONTEXT_LENGTH: _minimax(400, "bad_request_error"),
        ErrorKind.SERVER_ERROR: _minimax(500, "api_error"),
        ErrorKind.UNAVAILABLE: _minimax(503, "api_error"),
    },
    messages={
        ErrorKind.AUTH_MISSING: "login fail: Please carry the API secret key in the 'Authorization' field of "
        "the request header (1004)",
        ErrorKind.AUTH_INVALID: "invalid api key (2049)",
        ErrorKind.RATE_LIMITED: "rate limit exceeded(RPM) (1002)",
        ErrorKind.QUOTA: "insufficient balance (1008)",
        ErrorKind.CONTEXT_LENGTH: "context window exceeds limit (2013)",
        ErrorKind.SERVER_ERROR: "unknown error (1000)",
    },
    retry_after_ms=False,
)


def split_reasoning(body: dict[str, Any]) -> Reasoning | None:
    return Reasoning.DETAILS if body.get("reasoning_split") is True else None


DIALECT = Dialect(
    name="minimax",
    base_path="/minimax/v1",
    errors=ERRORS,
    reasoning=Reasoning.THINK_TAGS,
    always_reasons=True,
    reasoning_for=split_reasoning,
    models=("MiniMax-M3", "MiniMax-M2.7", "MiniMax-M2.5"),
    endpoints=frozenset({"chat", "models"}),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
