"""One mapping from an upstream failure to a stable `ProviderError`; never echoes the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.providers.base import ProviderError

PASS_HEADERS = ("retry-after", "retry-after-ms")


def passthrough_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-ratelimit-") or k.lower() in PASS_HEADERS}


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return float(lowered["retry-after-ms"]) / 1000
        if "retry-after" in lowered:
            return float(lowered["retry-after"])
    except ValueError:
        return None
    return None


def _error_fields(body: Any) -> tuple[str, str]:
    """(type, code) from the usual envelopes, as short identifiers only."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("type") or err.get("status") or "")[:64], str(err.get("code") or "")[:64]
    if isinstance(body, dict) and isinstance(body.get("type"), str):
        return body["type"][:64], ""
    return "", ""


def map_error(provider: str, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
    err_type, err_code = _error_fields(body)
    marker = f"{err_type} {err_code}".lower()
    passed = passthrough_headers(headers)
    label = err_code or err_type or f"HTTP {status}"
    if status == 429 and "insufficient_quota" not in marker:
        return ProviderError("upstream_rate_limited", f"{provider}: rate limited ({label})", upstream_status=status,
                             retry_after=retry_after_s(headers), headers=passed)
    if "insufficient_quota" in marker or status == 402:
        return ProviderError("upstream_insufficient_quota", f"{provider}: insufficient quota", upstream_status=status)
    if status in (401, 403):
        return ProviderError("upstream_auth_failed", f"{provider}: the integration's credential was rejected ({label})",
                             upstream_status=status)
    if "context_length" in marker or "too long" in marker:
        return ProviderError("context_length_exceeded", f"{provider}: the request exceeds the model's context length",
                             upstream_status=status)
    if "content_filter" in marker or "content_policy" in marker:
        return ProviderError("content_filtered", f"{provider}: the request was blocked by the provider's content filter",
                             upstream_status=status)
    if status in (503, 529) or "overloaded" in marker:
        return ProviderError("upstream_overloaded", f"{provider}: overloaded ({label})", upstream_status=status,
                             retry_after=retry_after_s(headers), headers=passed)
    if status == 404:
        return ProviderError("upstream_bad_request", f"{provider}: model or deployment not found upstream",
                             upstream_status=status)
    if 400 <= status < 500:
        return ProviderError("upstream_bad_request", f"{provider}: the provider refused the request ({label})",
                             upstream_status=status)
    return ProviderError("upstream_error", f"{provider}: upstream error ({label})", upstream_status=status)
