"""Moonshot (Kimi): `{root}/moonshot/v1`. Usage inside `choices[0]` on the finish chunk (and top-level,
plus a duplicate usage-only chunk when include_usage is set); Moonshot error types."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, UsageStyle
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind


def _typed(type_: str) -> Any:
    return lambda message: {"error": {"message": message, "type": type_}}


def usage_quirk(usage: dict[str, Any], _model: str) -> None:
    usage["cached_tokens"] = 0


ERRORS = OpenAIStyleErrors(
    overrides={
        ErrorKind.AUTH_MISSING: (401, _typed("invalid_authentication_error")),
        ErrorKind.AUTH_INVALID: (401, _typed("invalid_authentication_error")),
        ErrorKind.RATE_LIMITED: (429, _typed("rate_limit_reached_error")),
        ErrorKind.QUOTA: (429, _typed("exceeded_current_quota_error")),
        ErrorKind.CONTEXT_LENGTH: (400, _typed("invalid_request_error")),
        ErrorKind.BAD_REQUEST: (400, _typed("invalid_request_error")),
        ErrorKind.SERVER_ERROR: (500, _typed("server_error")),
        ErrorKind.UNAVAILABLE: (503, _typed("engine_overloaded_error")),
    },
    messages={
        ErrorKind.AUTH_MISSING: "Invalid Authentication",
        ErrorKind.AUTH_INVALID: "Invalid Authentication",
        ErrorKind.RATE_LIMITED: f"Your account org-fake request reached organization max RPM: 3, please try "
        f"again after {RETRY_AFTER_S} seconds",
        ErrorKind.QUOTA: "Your account org-fake is suspended, please check your plan and billing details",
        ErrorKind.CONTEXT_LENGTH: "Invalid request: Your request exceeded model token limit: 131072",
        ErrorKind.UNAVAILABLE: "The engine is currently overloaded, please try again later",
    },
    retry_after_ms=False,
)
DIALECT = Dialect(
    name="moonshot",
    base_path="/moonshot/v1",
    errors=ERRORS,
    usage=UsageStyle.MOONSHOT,
    usage_quirk=usage_quirk,
    models=("kimi-k3", "kimi-k2.6", "kimi-k2.5", "moonshot-v1-8k", "moonshot-v1-32k"),
    endpoints=frozenset({"chat", "models"}),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
