"""Baseten Model APIs: `{root}/baseten/v1`, Bearer or `Api-Key` scheme; dedicated deployments:
`{root}/baseten/model-{id}/environments/{env}/sync/v1` (standing in for
`https://model-{id}.api.baseten.co/environments/{env}/sync/v1`), `Api-Key` scheme only. Usage only
when asked; errors as a plain `{"error": "..."}` string."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from tests.fakes.providers.families.base import Family, scheme_credential
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind


def _plain(message: str) -> dict[str, str]:
    return {"error": message}


def credential(request: web.Request) -> str | None:
    return scheme_credential(request, "authorization", "Bearer", "Api-Key")


def dedicated_credential(request: web.Request) -> str | None:
    return scheme_credential(request, "authorization", "Api-Key")


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
DEDICATED = replace(
    DIALECT,
    base_path=f"{DIALECT.base_path.removesuffix('/v1')}/{{deployment:model-[a-z0-9]+}}/environments/{{env}}/sync/v1",
    credential=dedicated_credential,
    endpoints=frozenset({"chat"}),
)


def register(router: web.UrlDispatcher) -> None:
    OpenAICompatRoutes(DIALECT).register(router)
    OpenAICompatRoutes(DEDICATED).register(router)


FAMILY = Family(DIALECT.name, DIALECT.base_path, register)
