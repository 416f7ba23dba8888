"""The secret payload: its shape per provider, its canonical bytes and its masked form.

A payload is `{"api_key"?: str, "service_account_json"?: object | str, "headers": {name: value}}`.
All of it is secret (header values included); only header names and a masked form leave keyvault.
Error messages name fields, never values.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from shared.errors import KeyrelayError

MASK: Final = "••••••"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
_SA_FIELDS: Final = ("type", "project_id", "private_key", "client_email", "token_uri")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_PREFIX_SEGMENT = re.compile(r"[a-z]{1,6}[-_]")
_MAX_PREFIX = 7
_MIN_MASKED_LENGTH = 16


class SecretPayload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    api_key: str | None = None
    service_account_json: dict[str, Any] | str | None = None
    headers: dict[str, str] = {}

    def canonical(self) -> bytes:
        """Stable bytes for the fingerprint: the service account as an object, keys sorted."""
        sa = self.service_account_json
        doc = {
            "api_key": self.api_key,
            "service_account_json": _as_object(sa) if isinstance(sa, str) else sa,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        return msgspec.json.encode(doc, order="sorted")

    @property
    def header_names(self) -> list[str]:
        return sorted(name.lower() for name in self.headers)


_decoder = msgspec.json.Decoder(SecretPayload)


def _invalid(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("invalid_credentials", message, param=param)


def _as_object(sa: str) -> Any:
    try:
        return msgspec.json.decode(sa)
    except msgspec.DecodeError:
        raise _invalid("service_account_json is not JSON", "credentials.service_account_json") from None


def parse_payload(raw: bytes) -> SecretPayload:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise _invalid("credentials are too large", "credentials")
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise _invalid(
            "credentials must be an object with api_key, service_account_json and headers", "credentials"
        ) from None


def _check_service_account(sa: dict[str, Any] | str | None) -> dict[str, Any]:
    doc = _as_object(sa) if isinstance(sa, str) else sa
    if (
        not isinstance(doc, dict)
        or any(not isinstance(doc.get(f), str) or not doc.get(f) for f in _SA_FIELDS)
        or doc.get("type") != "service_account"
        or "-----BEGIN PRIVATE KEY-----" not in doc["private_key"]
        or "@" not in doc["client_email"]
        or not str(doc["token_uri"]).startswith("https://")
    ):
        raise _invalid(
            "service_account_json must be a Google service-account key file "
            "(type, project_id, private_key, client_email, token_uri)",
            "credentials.service_account_json",
        )
    return doc


def validate(provider: str, payload: SecretPayload) -> None:
    """Loose shape checks per provider: Vertex needs a service-account key file, the others an API key."""
    for name, value in payload.headers.items():
        if not _HEADER_NAME.fullmatch(name) or len(value) > 8192 or any(c in value for c in "\r\n\x00"):
            raise _invalid("custom headers need token names and single-line values", "custom_headers")
    if provider == "vertex" or payload.service_account_json is not None:
        _check_service_account(payload.service_account_json)
        return
    key = payload.api_key
    if key is None or not 8 <= len(key) <= 4096 or any(c.isspace() or c == "\x00" for c in key):
        raise _invalid("api_key is required (8-4096 characters, no whitespace)", "credentials.api_key")


def _prefix(secret: str) -> str:
    """The leading run of short lowercase segments (`sk-`, `sk-ant-`, `gsk_`): a vendor tag, not secret."""
    prefix = ""
    while match := _PREFIX_SEGMENT.match(secret, len(prefix)):
        if len(prefix) + len(match.group()) > _MAX_PREFIX:
            break
        prefix += match.group()
    return prefix


def mask(payload: SecretPayload) -> str:
    """`sk-ant-••••••3f9` for API keys; a service account shows no field of its key file."""
    if payload.api_key:
        key = payload.api_key
        if len(key) < _MIN_MASKED_LENGTH:
            return MASK
        return f"{_prefix(key)}{MASK}{key[-3:]}"
    if payload.service_account_json is not None:
        return f"service-account {MASK}"
    return MASK
