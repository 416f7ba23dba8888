"""Baseten Model APIs: `{root}/baseten/v1`. Bearer or `Api-Key` scheme; usage only when asked;
errors as a plain `{"error": "..."}` string."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes.providers.families.base import Family, scheme_credential
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind

if TYPE_CHECKING:
    from aiohttp import web


def _plain(message: str) -> dict[str, str]:
    return {"error": message}


def credential(request: web.Request) -> str | None:
    return scheme_credential(request, "authorization", "Bearer", "Api-Key")


ERRORS = OpenAIStyleErrors(
    overrides=dict.fromkeys((ErrorKind.AUTH_MISSING, ErrorKind.AUTH_INVALID), (401, _plain)),
    messages={ErrorKind.AUTH_MISSING: "No API key provided", ErrorKind.AUTH_INVALID: "Invalid API key"},
    retry_after_ms=False,
)
DIALECT = Dialect(
    name="baseten",
    base_path="/baseten/v1",
    errors=ERRORS,
    credential=credential,
    models=("openai/gpt-oss-120b", "deepseek-ai/DeepSeek-V3.1", "moonshotai/Kimi-K2.5"),
    endpoints=frozenset({"chat", "models"}),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
