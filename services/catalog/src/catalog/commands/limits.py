"""Limit fields shared by API keys and projects: RPM, TPM, USD budget per period; for keys also the
model allow-list and the expiry."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from shared.errors import KeyrelayError
from shared.messages import catalog as m

LimitedCommand = m.CreateProject | m.UpdateProject | m.CreateApiKey | m.UpdateApiKey


def limit_fields(cmd: LimitedCommand) -> dict[str, Any]:
    """Validated limit fields present on a command, as stored."""
    out: dict[str, Any] = {}
    for field, value in (("rpm", cmd.rpm), ("tpm", cmd.tpm)):
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
    if isinstance(cmd, m.CreateApiKey | m.UpdateApiKey):
        out |= _key_fields(cmd)
    return out


def _key_fields(cmd: m.CreateApiKey | m.UpdateApiKey) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cmd.models is not None:
        if len(cmd.models) > 500 or any(not isinstance(x, str) or not 1 <= len(x) <= 200 for x in cmd.models):
            raise KeyrelayError("invalid_request", "models must be a list of model strings", param="models")
        out["models"] = list(cmd.models)
    if cmd.expires_at is not None:
        out["expires_at"] = cmd.expires_at if cmd.expires_at.tzinfo else cmd.expires_at.replace(tzinfo=UTC)
    return out
