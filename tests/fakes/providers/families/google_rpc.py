"""Google RPC error envelopes `{"error": {code, message, status, details}}` for Gemini and Vertex."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind
from tests.fakes.providers.respond import json_response

_TYPE = "type.googleapis.com/google.rpc."
_QUOTA = {
    "@type": _TYPE + "QuotaFailure",
    "violations": [
        {
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        }
    ],
}
_RETRY = {"@type": _TYPE + "RetryInfo", "retryDelay": f"{RETRY_AFTER_S}s"}


def _info(reason: str, service: str) -> dict[str, Any]:
    return {
        "@type": _TYPE + "ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service},
    }


_GEMINI: dict[ErrorKind, tuple[int, str, str, list[dict[str, Any]]]] = {
    ErrorKind.AUTH_MISSING: (
        403,
        "PERMISSION_DENIED",
        (
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API."
        ),
        [_info("CONSUMER_INVALID", "generativelanguage.googleapis.com")],
    ),
    ErrorKind.AUTH_INVALID: (
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            _info("API_KEY_INVALID", "generativelanguage.googleapis.com"),
            {
                "@type": _TYPE + "LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    ),
    ErrorKind.BAD_REQUEST: (400, "INVALID_ARGUMENT", "Request contains an invalid argument.", []),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND", "Requested entity was not found.", []),
    ErrorKind.RATE_LIMITED: (
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        [_QUOTA, _RETRY],
    ),
    ErrorKind.RATE_LIMITED_NO_HINT: (
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        [],
    ),
    ErrorKind.QUOTA: (
        400,
        "FAILED_PRECONDITION",
        "This API method requires billing to be enabled. Please enable billing on project #0 and retry.",
        [],
    ),
    ErrorKind.SERVER_ERROR: (
        500,
        "INTERNAL",
        (
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting"
        ),
        [],
    ),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", []),
    ErrorKind.CONTEXT_LENGTH: (
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        [],
    ),
}
_GEMINI[ErrorKind.OVERLOADED] = _GEMINI[ErrorKind.UNAVAILABLE]
_GEMINI[ErrorKind.CONTENT_FILTER] = _GEMINI[ErrorKind.BAD_REQUEST]

_VERTEX_AUTH = (
    401,
    "UNAUTHENTICATED",
    (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
        "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    ),
    [_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", "aiplatform.googleapis.com")],
)
_VERTEX = {
    **_GEMINI,
    ErrorKind.AUTH_MISSING: (*_VERTEX_AUTH[:3], [_info("CREDENTIALS_MISSING", "aiplatform.googleapis.com")]),
    ErrorKind.AUTH_INVALID: _VERTEX_AUTH,
    ErrorKind.RATE_LIMITED: (
        429,
        "RESOURCE_EXHAUSTED",
        (
            "Resource exhausted. Please try again later. Please refer to "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
        ),
        [_RETRY],
    ),
}


def rpc_body(code: int, status: str, message: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def _render(
    table: dict[ErrorKind, tuple[int, str, str, list[dict[str, Any]]]], kind: ErrorKind, message: str | None
) -> web.Response:
    code, status, default, details = table[kind]
    return json_response(rpc_body(code, status, message or default, details), status=code)


def gemini_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    return _render(_GEMINI, kind, message)


def vertex_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    return _render(_VERTEX, kind, message)
