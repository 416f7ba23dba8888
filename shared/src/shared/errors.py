"""Stable error codes and the contract's error body.

Every error that leaves Keyrelay — an HTTP response or a bus reply — carries one of these codes.
The HTTP status for each code is fixed here, in one table, so the gateway and the services agree.

    KeyrelayError
    ├── client errors (4xx): invalid_request, not_found, model_not_found, ...
    └── server errors (5xx): dependency_unavailable, upstream_error, upstream_timeout, ...
"""

from __future__ import annotations

from typing import Final

import msgspec

# code -> (HTTP status, OpenAI-style error type)
ERROR_CODES: Final[dict[str, tuple[int, str]]] = {
    "invalid_request": (400, "invalid_request_error"),
    "invalid_json": (400, "invalid_request_error"),
    "invalid_model": (400, "invalid_request_error"),
    "invalid_slug": (400, "invalid_request_error"),
    "invalid_credentials": (400, "invalid_request_error"),
    "invalid_header": (400, "invalid_request_error"),
    "upstream_not_allowed": (400, "invalid_request_error"),
    "context_length_exceeded": (400, "invalid_request_error"),
    "content_filtered": (400, "invalid_request_error"),
    "upstream_bad_request": (400, "invalid_request_error"),
    "unauthorized": (401, "authentication_error"),
    "invalid_api_key": (401, "authentication_error"),
    "upstream_auth_failed": (502, "upstream_error"),
    "budget_exceeded": (402, "insufficient_quota"),
    "upstream_insufficient_quota": (402, "insufficient_quota"),
    "forbidden": (403, "permission_error"),
    "owner_required": (403, "permission_error"),
    "not_found": (404, "not_found_error"),
    "model_not_found": (404, "not_found_error"),
    "integration_not_found": (404, "not_found_error"),
    "method_not_allowed": (405, "invalid_request_error"),
    "conflict": (409, "conflict_error"),
    "slug_taken": (409, "conflict_error"),
    "payload_too_large": (413, "invalid_request_error"),
    "unsupported_media_type": (415, "invalid_request_error"),
    "rate_limited": (429, "rate_limit_error"),
    "upstream_rate_limited": (429, "rate_limit_error"),
    "internal_error": (500, "server_error"),
    "upstream_error": (502, "upstream_error"),
    "upstream_overloaded": (503, "upstream_error"),
    "dependency_unavailable": (503, "server_error"),
    "overloaded": (503, "server_error"),
    "upstream_timeout": (504, "upstream_error"),
}


MAX_MESSAGE_CHARS: Final = 1000  # an error message never grows with the input that caused it
MAX_ECHO_CHARS: Final = 64


def echo(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """A caller's value as it may appear in an error message: quoted, and cut to `limit` characters.

    Every message that repeats something the caller sent (a model name, a header, a config name)
    uses this, so a 60 KB header or model name never comes back whole.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    type: str
    code: str
    param: str | None = None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """`{"error": {"message", "type", "code", "param"}}` — the contract's only error shape."""

    error: ErrorDetail


class KeyrelayError(Exception):
    """An error with a stable code. `message` must never contain a secret or an upstream body."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "..."
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.retry_after = retry_after
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return ERROR_CODES[self.code][0]

    @property
    def type(self) -> str:
        return ERROR_CODES[self.code][1]

    def body(self) -> ErrorBody:
        return ErrorBody(error=ErrorDetail(message=self.message, type=self.type, code=self.code, param=self.param))


class DependencyUnavailable(KeyrelayError):
    """A service the caller needs did not answer (timeout, no responders, message bus down).

    Worth retrying, and the only failure a gateway cache may answer stale for (`gateway.cache`).
    """

    def __init__(self, message: str) -> None:
        super().__init__("dependency_unavailable", message)


def error_body(code: str, message: str, param: str | None = None) -> ErrorBody:
    return KeyrelayError(code, message, param=param).body()
