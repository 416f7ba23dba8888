"""Azure OpenAI: `{root}/azure/{resource_name}/openai`, deployments + api-version, or the v1 API.

Quirks: `api-key` header, content-filter annotations (an empty first stream chunk carrying only
`prompt_filter_results`), Azure error envelopes, `DeploymentNotFound` for deployments named
`missing-*`, and a 400 `content_filter` for models/deployments containing `fault-content-filter`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.fakes.providers.families.base import Family, bearer
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes, openai_rules
from tests.fakes.providers.families.openai_dialect import Dialect, Reasoning
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind
from tests.fakes.providers.respond import json_response

if TYPE_CHECKING:
    from aiohttp import web

BASE = "/azure/{resource_name}/openai"
_ROUTE_BASE = "/azure/{resource}/openai"
_UNSUPPORTED_VERSION = {"error": {"code": "BadRequest", "message": "API version not supported"}}
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


def _azure(code: str) -> Any:
    return lambda message: {"error": {"code": code, "message": message}}


def _content_filter(message: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {"violence": {"filtered": True, "severity": "medium"}},
            },
        }
    }


ERRORS = OpenAIStyleErrors(
    overrides={
        ErrorKind.AUTH_MISSING: (401, _azure("401")),
        ErrorKind.AUTH_INVALID: (401, _azure("401")),
        ErrorKind.RATE_LIMITED: (429, _azure("429")),
        ErrorKind.NOT_FOUND: (404, _azure("DeploymentNotFound")),
        ErrorKind.CONTENT_FILTER: (400, _content_filter),
    },
    messages={
        ErrorKind.AUTH_MISSING: "Access denied due to missing subscription key. Make sure to include "
        "subscription key when making requests to an API.",
        ErrorKind.AUTH_INVALID: "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
        "to provide a valid key for an active subscription and use a correct regional "
        "API endpoint for your resource.",
        ErrorKind.RATE_LIMITED: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have "
        f"exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry "
        f"after {RETRY_AFTER_S} second.",
        ErrorKind.NOT_FOUND: "The API deployment for this resource does not exist. If you created the deployment "
        "within the last 5 minutes, please wait a moment and try again.",
    },
    request_id_header="apim-request-id",
)


def azure_credential(request: web.Request) -> str | None:
    return request.headers.get("api-key") or bearer(request)


def success_headers() -> dict[str, str]:
    return {"x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "99000"}


DIALECT = Dialect(
    name="azure",
    base_path=BASE,
    errors=ERRORS,
    credential=azure_credential,
    reasoning=Reasoning.HIDDEN,
    content_filters=True,
    success_headers=success_headers,
    validate=openai_rules,
    models=("gpt-4o-mini", "gpt-4.1", "o4-mini"),
)


class AzureRoutes(OpenAICompatRoutes):
    """Deployment routes need `api-version`; the deployment name selects the model."""

    def register(self, router: web.UrlDispatcher) -> None:
        deployment = f"{_ROUTE_BASE}/deployments/{{deployment}}"
        router.add_post(f"{deployment}/chat/completions", self.chat)
        router.add_post(f"{deployment}/embeddings", self.embeddings)
        router.add_post(f"{deployment}/images/generations", self.images)
        router.add_post(f"{_ROUTE_BASE}/v1/chat/completions", self.chat)
        router.add_post(f"{_ROUTE_BASE}/v1/embeddings", self.embeddings)
        router.add_get(f"{_ROUTE_BASE}/v1/models", self.list_models)

    def precheck(self, request: web.Request) -> web.Response | None:
        if "deployment" not in request.match_info:  # the v1 surface: no version, or latest / preview
            if request.query.get("api-version", "latest") not in {"latest", "preview"}:
                return json_response(
                    {"error": {"code": "BadRequest", "message": "API version not supported"}}, status=400
                )
            return None
        version = request.query.get("api-version")
        if version is None:
            return json_response({"error": {"code": "404", "message": "Resource not found"}}, status=404)
        if not _API_VERSION.match(version):
            return json_response({"error": {"code": "BadRequest", "message": "API version not supported"}}, status=400)
        if request.match_info["deployment"].startswith("missing"):
            return self.dialect.errors(ErrorKind.NOT_FOUND)
        return None

    def model_of(self, request: web.Request, body: dict[str, Any]) -> str:
        return request.match_info.get("deployment") or str(body.get("model") or "")

    def problem(self, request: web.Request, body: dict[str, Any]) -> str | None:
        return super().problem(request, {**body, "model": self.model_of(request, body)})


FAMILY = Family(DIALECT.name, BASE, AzureRoutes(DIALECT).register)
