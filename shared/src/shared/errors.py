"""Stable error codes and the contract's error body.

Every error that leaves Keyrelay — an HTTP response or a bus reply — carries one `ErrorCode`.
Each code is data: its HTTP status and OpenAI-style type, and how the gateway treats an attempt
that failed with it (retry the same target, count it against the target's circuit, fall back to
the next target, what it says about the integration's health). The gateway, the proxy and the
services all read these attributes; no other table of code strings exists.

    KeyrelayError(code: ErrorCode)
    ├── client errors (4xx): invalid_request, not_found, model_not_found, ...
    ├── server errors (5xx): dependency_unavailable, internal_error, overloaded
    └── ProviderError (gateway): upstream_* — an upstream failure, already classified
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, NamedTuple, Self

import msgspec

Health = Literal["auth", "rate_limit", "server", "timeout"]


class Handling(NamedTuple):
    """How the gateway treats an attempt that failed with a code (all False: the request's own fault)."""

    retryable: bool = False  # the same target may succeed when tried again (retry policy permitting)
    breaker: bool = False  # counts as a failure for the target's circuit breaker
    fallback: bool = False  # may move on to the next target (the step's `fallback_on` permitting)
    health: Health | None = None  # what it says about the integration's health


_CLIENT = Handling()
_TRANSIENT = Handling(retryable=True)  # worth a later retry by the client; not about any upstream
_FAULT = Handling(retryable=True, breaker=True, fallback=True, health="server")
_SLOW = Handling(retryable=True, breaker=True, fallback=True, health="timeout")
_THROTTLED = Handling(retryable=True, fallback=True, health="rate_limit")  # not the upstream's fault
_KEY_REJECTED = Handling(fallback=True, health="auth")
_ELSEWHERE = Handling(fallback=True)  # retrying this target will not help; another one may serve it


class ErrorCode(StrEnum):
    """Every stable error code. A `StrEnum`: members compare and serialise as their plain strings."""

    _value_: str
    status: int
    error_type: str
    retryable: bool
    breaker: bool
    fallback: bool
    health: Health | None

    def __new__(cls, code: str, status: int, error_type: str, handling: Handling = _CLIENT) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.error_type = error_type
        member.retryable, member.breaker, member.fallback, member.health = handling
        return member

    @classmethod
    def of(cls, value: str) -> ErrorCode:
        """The member for a code string; `ValueError` for a string that is no code."""
        member = cls._value2member_map_.get(value)
        if isinstance(member, ErrorCode):
            return member
        raise ValueError(f"unknown error code {value!r}")

    # the request is at fault (400): the same request fails the same way anywhere
    INVALID_REQUEST = "invalid_request", 400, "invalid_request_error"
    INVALID_JSON = "invalid_json", 400, "invalid_request_error"
    INVALID_MODEL = "invalid_model", 400, "invalid_request_error"
    INVALID_SLUG = "invalid_slug", 400, "invalid_request_error"
    INVALID_PRICE = "invalid_price", 400, "invalid_request_error"
    INVALID_DISCOUNT = "invalid_discount", 400, "invalid_request_error"
    INVALID_CREDENTIALS = "invalid_credentials", 400, "invalid_request_error"
    INVALID_HEADER = "invalid_header", 400, "invalid_request_error"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded", 400, "invalid_request_error"
    CONTENT_FILTERED = "content_filtered", 400, "invalid_request_error"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "invalid_request_error"
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "invalid_request_error"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, "invalid_request_error"
    # who is asking, and may they
    UNAUTHORIZED = "unauthorized", 401, "authentication_error"
    INVALID_API_KEY = "invalid_api_key", 401, "authentication_error"
    FORBIDDEN = "forbidden", 403, "permission_error"
    OWNER_REQUIRED = "owner_required", 403, "permission_error"
    NOT_FOUND = "not_found", 404, "not_found_error"
    # no such model here, or (an upstream 404) not at that provider: another target may have it
    MODEL_NOT_FOUND = "model_not_found", 404, "not_found_error", _ELSEWHERE
    INTEGRATION_NOT_FOUND = "integration_not_found", 404, "not_found_error"
    CONFLICT = "conflict", 409, "conflict_error"
    SLUG_TAKEN = "slug_taken", 409, "conflict_error"
    # Keyrelay's own limits and health
    BUDGET_EXCEEDED = "budget_exceeded", 402, "insufficient_quota"
    RATE_LIMITED = "rate_limited", 429, "rate_limit_error", _TRANSIENT
    INTERNAL_ERROR = "internal_error", 500, "server_error"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable", 503, "server_error", _TRANSIENT
    OVERLOADED = "overloaded", 503, "server_error", _TRANSIENT
    CLIENT_CANCELLED = "client_cancelled", 499, "invalid_request_error"  # only recorded: the client went away
    # an upstream provider failed: the request itself was fine, another target may serve it
    UPSTREAM_ERROR = "upstream_error", 502, "upstream_error", _FAULT
    UPSTREAM_OVERLOADED = "upstream_overloaded", 503, "upstream_error", _FAULT
    UPSTREAM_TIMEOUT = "upstream_timeout", 504, "upstream_error", _SLOW
    UPSTREAM_RATE_LIMITED = "upstream_rate_limited", 429, "rate_limit_error", _THROTTLED
    UPSTREAM_AUTH_FAILED = "upstream_auth_failed", 502, "upstream_error", _KEY_REJECTED
    UPSTREAM_INSUFFICIENT_QUOTA = "upstream_insufficient_quota", 402, "insufficient_quota", _ELSEWHERE
    # the upstream refused this request (400), or has no such model (404): only the statuses in the
    # step's `fallback_on` tell the two apart
    UPSTREAM_BAD_REQUEST = "upstream_bad_request", 400, "invalid_request_error", _ELSEWHERE
    UPSTREAM_NOT_ALLOWED = "upstream_not_allowed", 400, "invalid_request_error", _ELSEWHERE  # our outbound policy


def wire_code(value: str) -> ErrorCode:
    """A code read from a bus reply: one this version does not know is an `internal_error`."""
    try:
        return ErrorCode.of(value)
    except ValueError:
        return ErrorCode.INTERNAL_ERROR


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
        code: ErrorCode | str,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "..."
        super().__init__(message)
        self.code = ErrorCode.of(code)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return self.code.status

    @property
    def type(self) -> str:
        return self.code.error_type

    def body(self) -> ErrorBody:
        return ErrorBody(error=ErrorDetail(message=self.message, type=self.type, code=self.code, param=self.param))


class DependencyUnavailable(KeyrelayError):
    """A service the caller needs did not answer (timeout, no responders, message bus down).

    Worth retrying, and the only failure a gateway cache may answer stale for (`gateway.cache`).
    """

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.DEPENDENCY_UNAVAILABLE, message)


def error_body(code: ErrorCode | str, message: str, param: str | None = None) -> ErrorBody:
    return KeyrelayError(code, message, param=param).body()
