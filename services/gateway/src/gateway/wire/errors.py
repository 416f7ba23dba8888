"""The one mapping from an upstream failure to a stable `ProviderError`.

Input: provider id, HTTP status, the parsed error body (any envelope: OpenAI, Anthropic, Google
RPC, Cohere, FAL, Pollo, MiniMax, plain strings) and the response headers. Output: a
`ProviderError` with a stable code, a retry hint and the rate-limit headers to pass through.

The message is built from a fixed sentence plus, at most, the provider's error *type* or *code*
when it is a plain identifier (letters and underscores only, so no key can ride along). The
upstream body is read for classification only and never echoed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from shared.errors import ErrorCode, KeyrelayError

_PASS_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "x-tokenlimit-")
_PASS_NAMES = frozenset({"retry-after", "retry-after-ms"})
_LABEL = re.compile(r"[a-z][a-z_]{1,47}|[A-Z][A-Za-z_]{1,47}")
_TRY_AGAIN = re.compile(
    r"(?:try again|retry)(?:\s+(?:in|after))?\s+(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?)\b", re.IGNORECASE
)
_CONTEXT_MARKERS = (
    "context_length",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "exceeds the maximum number of tokens",
    "token limit",
    "input token count",
    "prompt length",
)
# Billing problems named by an identifier are certain; described in prose they are only likely
# (a Gemini 429 with a retry hint also says "check your plan and billing details").
_QUOTA_CODES = ("insufficient_quota", "insufficient_balance", "exceeded_current_quota", "billing_error", "(1008)")
_QUOTA_MARKERS = (
    "billing",
    "not enough credits",
    "payment required",
    "credit balance",
    "available credits",
    "spending limit",
    "suspended",
)
_AUTH_MARKERS = (
    "api_key_invalid",
    "authentication_error",
    "invalid_api_key",
    "incorrect api key",
    "invalid api key",
    "api key not valid",
    "no api key provided",
    "invalid authentication",
)
_FILTER_MARKERS = ("content_filter", "content_policy", "responsibleaipolicyviolation")
# Stream error events carry a type but no HTTP status; give them the status that type comes with.
_STATUS_OF_TYPE = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "authentication_error": 401,
    "permission_error": 403,
    "invalid_request_error": 400,
    "billing_error": 402,
    "not_found_error": 404,
    "request_too_large": 413,
    "server_error": 500,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
    "DEADLINE_EXCEEDED": 504,
    "INVALID_ARGUMENT": 400,
    "PERMISSION_DENIED": 403,
}


class ProviderError(KeyrelayError):
    """An upstream failure, already mapped to a stable code.

    `upstream_status` is the provider's HTTP status (0 for connection errors and timeouts).
    The message names the provider and a short, key-free reason; never the upstream body verbatim.
    """

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        upstream_status: int = 0,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, retry_after=retry_after, headers=headers)
        self.upstream_status = upstream_status

    @property
    def retryable(self) -> bool:
        return self.code.retryable


def passthrough_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Rate-limit and retry headers worth handing to the client, with lower-case names."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low in _PASS_NAMES or low.startswith(_PASS_PREFIXES):
            out[low] = value
    return out


def retry_after_s(headers: Mapping[str, str], body: Any = None) -> float | None:
    """`retry-after-ms`, `retry-after` (seconds or HTTP date), Gemini `RetryInfo`, or "try again in Ns"."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := _number(lowered.get("retry-after-ms"))) is not None:
        return ms / 1000
    raw = lowered.get("retry-after")
    if raw is not None:
        if (seconds := _number(raw)) is not None:
            return seconds
        try:
            return max(parsedate_to_datetime(raw).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError, IndexError):
            pass
    return _body_retry_after(body)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _body_retry_after(body: Any) -> float | None:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        for detail in err.get("details") or ():
            if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                delay = str(detail.get("retryDelay", ""))
                if delay.endswith("s") and (seconds := _number(delay[:-1])) is not None:
                    return seconds
        message = err.get("message")
    else:
        message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and (match := _TRY_AGAIN.search(message)):
        value = float(match[1])
        return value / 1000 if match[2].lower() == "ms" else value
    return None


def _fields(body: Any, headers: Mapping[str, str]) -> tuple[list[str], str]:
    """(identifiers from the envelope, lower-cased text used only to classify)."""
    idents: list[str] = []
    texts: list[str] = []
    if isinstance(body, list) and body:  # Google streaming errors can come wrapped in an array
        body = body[0]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            idents += [str(err.get(k)) for k in ("code", "type", "status") if isinstance(err.get(k), str)]
            texts.append(str(err.get("message", "")))
            inner = err.get("innererror")
            if isinstance(inner, dict) and isinstance(inner.get("code"), str):
                idents.append(inner["code"])
            for detail in err.get("details") or ():
                if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
                    idents.append(detail["reason"])
        elif isinstance(err, str):
            texts.append(err)
        if isinstance(body.get("type"), str) and body["type"] != "error":
            idents.append(body["type"])
        if isinstance(body.get("code"), str):
            idents.append(body["code"])
        for key in ("message", "detail", "error_type"):
            if isinstance(body.get(key), str):
                texts.append(body[key])
    elif isinstance(body, str):
        texts.append(body)
    fal_type = {k.lower(): v for k, v in headers.items()}.get("x-fal-error-type")
    if fal_type:
        idents.append(fal_type)
    return idents, " ".join([*idents, *texts]).lower()


def _label(idents: list[str], status: int) -> str:
    for ident in idents:
        if _LABEL.fullmatch(ident):
            return ident
    return f"HTTP {status}" if status else "no status"


def map_error(provider: str, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
    """Classify an upstream error response; see the module docstring for what is (not) kept."""
    idents, text = _fields(body, headers)
    label = _label(idents, status)
    passed = passthrough_headers(headers)

    def error(code: ErrorCode, reason: str, *, retry: bool = False) -> ProviderError:
        return ProviderError(
            code,
            f"{provider}: {reason} ({label})",
            upstream_status=status,
            retry_after=retry_after_s(headers, body) if retry else None,
            headers=passed,
        )

    hinted = retry_after_s(headers, body) is not None
    if (
        status == 402
        or any(m in text for m in _QUOTA_CODES)
        or (400 <= status < 500 and not (status == 429 and hinted) and any(m in text for m in _QUOTA_MARKERS))
    ):
        return error(ErrorCode.UPSTREAM_INSUFFICIENT_QUOTA, "the account has no quota or credit left")
    server_side = status >= 500 or status == 0
    if status == 429 or (server_side and ("resource_exhausted" in text or "rate_limit" in text)):
        return error(ErrorCode.UPSTREAM_RATE_LIMITED, "rate limited", retry=True)
    if status in (401, 403) or (400 <= status < 500 and any(m in text for m in _AUTH_MARKERS)):
        return error(ErrorCode.UPSTREAM_AUTH_FAILED, "the integration's credential was rejected")
    if status in (400, 413, 422) and any(m in text for m in _CONTEXT_MARKERS):
        return error(ErrorCode.CONTEXT_LENGTH_EXCEEDED, "the request exceeds the model's context length")
    if status in (400, 422) and any(m in text for m in _FILTER_MARKERS):
        return error(ErrorCode.CONTENT_FILTERED, "the provider's content filter blocked the request")
    if status in (503, 529) or (server_side and ("overloaded" in text or "unavailable" in text)):
        return error(ErrorCode.UPSTREAM_OVERLOADED, "overloaded", retry=True)
    if status in (408, 504) or (server_side and ("deadline_exceeded" in text or "timeout" in text)):
        return error(ErrorCode.UPSTREAM_TIMEOUT, "timed out upstream")
    if status == 404:
        return error(ErrorCode.MODEL_NOT_FOUND, "model or deployment not found upstream")
    if 400 <= status < 500:
        return error(ErrorCode.UPSTREAM_BAD_REQUEST, "the provider refused the request")
    return error(ErrorCode.UPSTREAM_ERROR, "upstream error", retry=status == 500)


def map_stream_error(provider: str, body: Any) -> ProviderError:
    """An error event inside a 200 stream: infer the status its type stands for, then map it."""
    idents, _ = _fields(body, {})
    status = next((_STATUS_OF_TYPE[i] for i in idents if i in _STATUS_OF_TYPE), 500)
    return map_error(provider, status, body, {})


def connection_error(provider: str, exc: BaseException) -> ProviderError:
    return ProviderError(ErrorCode.UPSTREAM_ERROR, f"{provider}: connection failed ({type(exc).__name__})")


def timeout_error(provider: str, what: str = "no response in time") -> ProviderError:
    return ProviderError(ErrorCode.UPSTREAM_TIMEOUT, f"{provider}: {what}")


def interrupted(provider: str, why: str = "stream interrupted") -> ProviderError:
    return ProviderError(ErrorCode.UPSTREAM_ERROR, f"{provider}: {why}")
