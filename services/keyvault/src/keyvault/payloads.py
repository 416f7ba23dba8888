"""The secret payload: its shape per provider, its canonical bytes and its masked form.

A payload is `{"api_key"?: str, "service_account_json"?: object | str, "headers": {name: value}}`.
All of it is secret (header values included); only header names and a masked form leave keyvault.
Keyvault is the one place that sees these values in clear, so it is where they are validated, with
the one set of rules (`shared.vault.rules`) catalog also applies to header names. Error messages
name fields, never values.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from shared.errors import KeyrelayError
from shared.vault import rules

MASK: Final = "••••••"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
FIELDS: Final = frozenset({"api_key", "service_account_json", "headers"})
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


_fields = msgspec.json.Decoder(dict[str, Any])


def parse_payload(raw: bytes) -> SecretPayload:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise _invalid("credentials are too large", "credentials")
    try:
        names = _fields.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        names = None
    for name in names or ():
        if name not in FIELDS:
            raise rules.unknown_field(name)
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise _invalid(
            "credentials must be an object with api_key, service_account_json and headers", "credentials"
        ) from None


def validate(provider: str, payload: SecretPayload) -> None:
    """The values catalog never sees: header values, the API key or the service-account key file.

    Header names are checked as for a custom host (auth headers allowed): whether the integration
    may carry auth headers is decided by catalog, which sees the names and knows the host.
    """
    rules.validate_custom_headers(payload.headers, custom_host=True)
    if provider == "vertex" or payload.service_account_json is not None:
        rules.validate_service_account(payload.service_account_json)
        return
    if payload.api_key is None:
        raise _invalid("credentials.api_key is required", "credentials.api_key")
    rules.check_secret_string(payload.api_key, "credentials.api_key")


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
