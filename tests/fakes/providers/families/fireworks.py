"""Fireworks: `{root}/fireworks/inference/v1`. Usage on the finish chunk; some errors are plain strings."""

from __future__ import annotations

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, UsageStyle
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind


def _plain(message: str) -> dict[str, str]:
    return {"error": message}


ERRORS = OpenAIStyleErrors(
    overrides={
        ErrorKind.AUTH_MISSING: (401, _plain),
        ErrorKind.AUTH_INVALID: (401, _plain),
        ErrorKind.NOT_FOUND: (404, _plain),
    },
    messages={
        ErrorKind.AUTH_MISSING: "Missing API key",
        ErrorKind.AUTH_INVALID: "The API key you provided is invalid.",
        ErrorKind.NOT_FOUND: "Model not found, inaccessible, and/or not deployed",
    },
    retry_after_ms=False,
)
DIALECT = Dialect(
    name="fireworks",
    base_path="/fireworks/inference/v1",
    errors=ERRORS,
    usage=UsageStyle.LAST_CHUNK,
    models=(
        "accounts/fireworks/models/gpt-oss-120b",
        "accounts/fireworks/models/kimi-k2p6",
        "accounts/fireworks/models/deepseek-v3p2",
    ),
    endpoints=frozenset({"chat", "embeddings", "models"}),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
