"""Limit fields shared by API keys and projects: RPM, TPM, USD budget per period."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from shared.errors import KeyrelayError


def limit_fields(cmd: Any) -> dict[str, Any]:
    """Validated limit fields (rpm, tpm, budget, and for keys: models, expiry) present on a command."""
    out: dict[str, Any] = {}
    for field in ("rpm", "tpm"):
        value = getattr(cmd, field, None)
        if value is not None:
            if value < 1:
                raise KeyrelayError("invalid_request", f"{field} must be a positive integer", param=field)
            out[field] = value
    if cmd.budget_usd is not None:
        if cmd.budget_usd < 0:
            raise KeyrelayError("invalid_request", "budget_usd must not be negative", param="budget_usd")
        out["budget_usd"] = cmd.budget_usd
        out["budget_period"] = cmd.budget_period or "month"
    elif cmd.budget_period is not None:
        out["budget_period"] = cmd.budget_period
    models = getattr(cmd, "models", None)
    if models is not None:
        if len(models) > 500 or any(not isinstance(x, str) or not 1 <= len(x) <= 200 for x in models):
            raise KeyrelayError("invalid_request", "models must be a list of model strings", param="models")
        out["models"] = list(models)
    expires_at = getattr(cmd, "expires_at", None)
    if expires_at is not None:
        expires = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        out["expires_at"] = expires
    return out
