"""Settings: read once from `KEYRELAY_*` environment variables (and an optional `.env`).

Nothing below a service's `app.py` reads `os.environ`; each service declares a frozen Struct and
calls `load_settings(MySettings)` at start-up. Values are converted leniently ("8080" -> 8080,
'{"a": 1}' -> dict) and a wrong value fails at start-up with the variable's name. Key material and
passwords are `Secret` fields: a settings object prints, logs and encodes them as `[redacted]`;
the one place that uses one calls `reveal()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from shared.secret import Secret, secret_dec_hook

PREFIX = "KEYRELAY_"
T = TypeVar("T", bound=msgspec.Struct)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a minimal `.env` file: `KEY=value` lines, `#` comments, optional quotes."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _coerce(raw: str) -> Any:
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError:
            return raw
    return raw


def load_settings(cls: type[T], env: Mapping[str, str] | None = None, *, env_file: Path | None = None) -> T:
    """Build `cls` from `KEYRELAY_<FIELD>` variables; the process environment wins over `.env`."""
    source: dict[str, str] = {}
    file_path = env_file if env_file is not None else Path(os.environ.get("KEYRELAY_ENV_FILE", ".env"))
    source.update(read_env_file(file_path))
    source.update(os.environ if env is None else env)
    fields = set(cls.__struct_fields__)
    raw = {
        key.removeprefix(PREFIX).lower(): _coerce(value)
        for key, value in source.items()
        if key.startswith(PREFIX) and key.removeprefix(PREFIX).lower() in fields
    }
    try:
        return msgspec.convert(raw, type=cls, strict=False, dec_hook=secret_dec_hook)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings for {cls.__name__}: {_describe(exc)}") from None


def _describe(exc: msgspec.ValidationError) -> str:
    # msgspec names the path like "$.http_port"; turn it into the variable name.
    text = str(exc)
    if "$." in text:
        head, _, path = text.rpartition("$.")
        field = path.split("[")[0].strip("` ")
        return f"{head.strip(' -`')} (KEYRELAY_{field.upper()})"
    return text


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Settings every service reads."""

    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: Secret | None = None
    # a CA bundle (PEM file): connect to NATS over TLS and accept only servers whose certificate it
    # signed; empty: plain TCP (the embedded single-node stack on loopback)
    nats_tls_ca: str = ""
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    log_format: str = "console"
    log_level: str = "info"
    data_dir: str = ".keyrelay"
    request_timeout_s: float = 2.0
    metrics_host: str = "127.0.0.1"  # the metrics listener; never the public HTTP port
    metrics_port: int = 0

    def nats_servers(self) -> list[str]:
        """Every server of `KEYRELAY_NATS_URL` (comma-separated): a client reconnects to any of them."""
        return [s.strip() for s in self.nats_url.split(",") if s.strip()]
