"""Keyvault settings and the start-up refusals for weak or sample key material.

Every refusal is a `SettingsError` whose message names the variable and the problem, never the
value. Keyvault checks all of this before it opens a single connection.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from shared.settings import CommonSettings, SettingsError

# The placeholders shipped in deploy/keyvault.env.sample. Refused, so nobody runs on them
# (they also fail the entropy checks: each is readable text, not random bytes).
SAMPLE_VALUES: Final = frozenset(
    {
        "UkVQTEFDRS1NRS1zYW1wbGUtcHJpbWFyeS1rZWstMzI=",  # "REPLACE-ME-sample-primary-kek-32"
        "UkVQTEFDRS1NRS1zYW1wbGUtb2xkZXIta2VrLTMyYnk=",  # "REPLACE-ME-sample-older-kek-32by"
        "UkVQTEFDRS1NRS1rZXl2YXVsdC14MjU1MTktc2VjcmU=",  # "REPLACE-ME-keyvault-x25519-secre"
        "UkVQTEFDRS1NRS1nYXRld2F5LWVkMjU1MTktcHVibGk=",  # "REPLACE-ME-gateway-ed25519-publi"
        "UkVQTEFDRS1NRS1jYXRhbG9nLWVkMjU1MTktcHVibGk=",  # "REPLACE-ME-catalog-ed25519-publi"
    }
)
_GENERATE_HINT: Final = "generate one with `keyrelay kek generate`"
_MIN_DISTINCT_BYTES: Final = 16


class KeyvaultSettings(CommonSettings, frozen=True, kw_only=True):
    keyvault_db: str = "keyrelay_keyvault"
    keyvault_keks: dict[str, str] = {}  # {kek_id: base64 of 32 random bytes}
    keyvault_primary_kek: str = ""
    keyvault_retired_keks: list[str] = []  # still loaded for `kek rotate`, never used to reveal
    keyvault_private_key: str = ""  # base64 X25519 secret key: opens sealed writes, boxes reveals
    keyvault_gateway_verify_key: str = ""  # base64 Ed25519 public key of the gateway (pinned)
    keyvault_catalog_verify_key: str = ""  # base64 Ed25519 public key of catalog (pinned)
    keyvault_reveal_max_age_s: float = 30.0  # a reveal request may not live longer than this
    keyvault_metrics_host: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """Every key keyvault needs, decoded and checked."""

    keks: dict[str, bytes]
    primary: str
    retired: frozenset[str]
    private_key: PrivateKey
    gateway_key: VerifyKey
    catalog_key: VerifyKey


def decode_key(name: str, value: str, *, length: int = 32) -> bytes:
    if not value.strip():
        raise SettingsError(f"{name} is required")
    if value.strip() in SAMPLE_VALUES:
        raise SettingsError(f"{name} is the placeholder from deploy/keyvault.env.sample: use real key material")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name} is not valid base64") from None
    if len(raw) != length:
        raise SettingsError(f"{name} must decode to {length} bytes (got {len(raw)})")
    return raw


def check_random(name: str, raw: bytes) -> bytes:
    """Refuse material that is plainly not random: all zero, few distinct bytes, or readable text."""
    if raw == bytes(len(raw)):
        raise SettingsError(f"{name} is all zero: {_GENERATE_HINT}")
    if len(set(raw)) < _MIN_DISTINCT_BYTES:
        raise SettingsError(f"{name} has too little entropy (repeated bytes): {_GENERATE_HINT}")
    if all(0x20 <= b < 0x7F for b in raw):
        raise SettingsError(f"{name} is readable text, not random bytes: {_GENERATE_HINT}")
    return raw


def load_keks(settings: KeyvaultSettings) -> dict[str, bytes]:
    if not settings.keyvault_keks:
        raise SettingsError("no key-encryption key: set KEYRELAY_KEYVAULT_KEKS and KEYRELAY_KEYVAULT_PRIMARY_KEK")
    keks: dict[str, bytes] = {}
    for kek_id, value in settings.keyvault_keks.items():
        name = f"KEYRELAY_KEYVAULT_KEKS[{kek_id}]"
        if not kek_id or len(kek_id) > 64 or not kek_id.replace("-", "").replace("_", "").isalnum():
            raise SettingsError("KEYRELAY_KEYVAULT_KEKS has an invalid KEK id (1-64 letters, digits, - or _)")
        keks[kek_id] = check_random(name, decode_key(name, value))
    if len(set(keks.values())) != len(keks):
        raise SettingsError("KEYRELAY_KEYVAULT_KEKS holds the same key under two ids")
    if not settings.keyvault_primary_kek:
        raise SettingsError("KEYRELAY_KEYVAULT_PRIMARY_KEK is required")
    if settings.keyvault_primary_kek not in keks:
        raise SettingsError("KEYRELAY_KEYVAULT_PRIMARY_KEK names no KEK in KEYRELAY_KEYVAULT_KEKS")
    if settings.keyvault_primary_kek in settings.keyvault_retired_keks:
        raise SettingsError("KEYRELAY_KEYVAULT_PRIMARY_KEK is listed in KEYRELAY_KEYVAULT_RETIRED_KEKS")
    return keks


def load_key_material(settings: KeyvaultSettings) -> KeyMaterial:
    """Decode and check every key; raise `SettingsError` on the first problem."""
    keks = load_keks(settings)
    private = check_random(
        "KEYRELAY_KEYVAULT_PRIVATE_KEY", decode_key("KEYRELAY_KEYVAULT_PRIVATE_KEY", settings.keyvault_private_key)
    )
    gateway = decode_key("KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY", settings.keyvault_gateway_verify_key)
    catalog = decode_key("KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY", settings.keyvault_catalog_verify_key)
    if gateway == catalog:
        raise SettingsError("KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY and KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY must differ")
    if settings.keyvault_reveal_max_age_s <= 0 or settings.keyvault_reveal_max_age_s > 300:
        raise SettingsError("KEYRELAY_KEYVAULT_REVEAL_MAX_AGE_S must be between 0 and 300 seconds")
    return KeyMaterial(
        keks=keks,
        primary=settings.keyvault_primary_kek,
        retired=frozenset(settings.keyvault_retired_keks),
        private_key=PrivateKey(private),
        gateway_key=VerifyKey(gateway),
        catalog_key=VerifyKey(catalog),
    )
