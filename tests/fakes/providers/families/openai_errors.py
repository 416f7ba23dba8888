"""OpenAI-shaped errors `{"error": {message, type, param, code}}`, with per-family overrides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.providers.answers import new_id
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind
from tests.fakes.providers.respond import json_response

if TYPE_CHECKING:
    from aiohttp import web

BodyFn = Callable[[str], Any]


def envelope(type_: str | None, code: str | int | None, param: str | None = None) -> BodyFn:
    def body(message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": type_, "param": param, "code": code}}

    return body


_DEFAULTS: dict[ErrorKind, tuple[int, str, BodyFn]] = {
    ErrorKind.AUTH_MISSING: (
        401,
        (
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        ),
        envelope("invalid_request_error", None),
    ),
    ErrorKind.AUTH_INVALID: (
        401,
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        envelope("invalid_request_error", "invalid_api_key"),
    ),
    ErrorKind.BAD_REQUEST: (400, "Invalid request.", envelope("invalid_request_error", None)),
    ErrorKind.NOT_FOUND: (
        404,
        "The model does not exist or you do not have access to it.",
        envelope("invalid_request_error", "model_not_found", "model"),
    ),
    ErrorKind.RATE_LIMITED: (
        429,
        (
            f"Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
            f"Please try again in {RETRY_AFTER_S}s."
        ),
        envelope("requests", "rate_limit_exceeded"),
    ),
    ErrorKind.QUOTA: (
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        envelope("insufficient_quota", "insufficient_quota"),
    ),
    ErrorKind.SERVER_ERROR: (
        500,
        "The server had an error while processing your request. Sorry about that!",
        envelope("server_error", None),
    ),
    ErrorKind.UNAVAILABLE: (
        503,
        "The engine is currently overloaded, please try again later.",
        envelope("server_error", None),
    ),
    ErrorKind.CONTEXT_LENGTH: (
        400,
        (
            "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "131072 tokens. Please reduce the length of the messages."
        ),
        envelope("invalid_request_error", "context_length_exceeded", "messages"),
    ),
    ErrorKind.CONTENT_FILTER: (
        400,
        "The response was filtered due to the prompt triggering the content management policy.",
        envelope(None, "content_filter", "prompt"),
    ),
}
_ALIASES = {ErrorKind.RATE_LIMITED_NO_HINT: ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED: ErrorKind.UNAVAILABLE}


@dataclass(frozen=True, slots=True)
class OpenAIStyleErrors:
    """Render an `ErrorKind` the OpenAI way; families override status/body/message per kind."""

    overrides: Mapping[ErrorKind, tuple[int, BodyFn]] = field(default_factory=dict)
    messages: Mapping[ErrorKind, str] = field(default_factory=dict)
    retry_after_ms: bool = True  # send `retry-after-ms` next to `retry-after` on 429
    request_id_header: str = "x-request-id"
    limit_headers: Callable[[bool], dict[str, str]] = lambda _exhausted: {}

    def __call__(self, kind: ErrorKind, message: str | None = None) -> web.Response:
        base = _ALIASES.get(kind, kind)
        status, default_message, body = _DEFAULTS[base]
        if base in self.overrides:
            status, body = self.overrides[base]
        text = message or self.messages.get(base, default_message)
        headers = {self.request_id_header: new_id("req_", 16)}
        if base is ErrorKind.RATE_LIMITED:
            headers.update(self.limit_headers(True))
        if kind is ErrorKind.RATE_LIMITED:
            headers["retry-after"] = str(RETRY_AFTER_S)
            if self.retry_after_ms:
                headers["retry-after-ms"] = str(RETRY_AFTER_S * 1000)
        return json_response(body(text), status=status, headers=headers)


def openai_limit_headers(exhausted: bool) -> dict[str, str]:
    """OpenAI `x-ratelimit-*` with Go-style duration resets."""
    return {
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-limit-tokens": "2000000",
        "x-ratelimit-remaining-requests": "0" if exhausted else "9999",
        "x-ratelimit-remaining-tokens": "0" if exhausted else "1999000",
        "x-ratelimit-reset-requests": "1s" if exhausted else "6ms",
        "x-ratelimit-reset-tokens": "1s" if exhausted else "30ms",
    }
