"""Keyvault settings and the start-up refusals for weak key material."""

from __future__ import annotations

import base64
import binascii

from shared.settings import CommonSettings, SettingsError

# The placeholder shipped in deploy/keyvault.env.sample: refused, so nobody runs on it.
SAMPLE_KEK = "UkVQTEFDRS1NRS1XSVRILWEtcmVhbC1rZXktMzJieXQ="


class KeyvaultSettings(CommonSettings, frozen=True, kw_only=True):
    keyvault_db: str = "keyrelay_keyvault"
    keyvault_keks: dict[str, str] = {}
    keyvault_primary_kek: str = ""
    keyvault_retired_keks: list[str] = []
    keyvault_private_key: str = ""
    keyvault_gateway_verify_key: str = ""
    keyvault_catalog_verify_key: str = ""
    keyvault_reveal_max_age_s: float = 30.0


def decode_key(name: str, value: str, *, length: int = 32) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name} is not valid base64") from None
    if len(raw) != length:
        raise SettingsError(f"{name} must be {length} bytes (got {len(raw)})")
    return raw


def check_kek(kek_id: str, value: str) -> bytes:
    name = f"KEYRELAY_KEYVAULT_KEKS[{kek_id}]"
    if value.strip() == SAMPLE_KEK:
        raise SettingsError(f"{name} is the sample value from deploy/keyvault.env.sample: generate one with `keyrelay kek generate`")
    raw = decode_key(name, value)
    if raw == bytes(32) or len(set(raw)) < 12:
        raise SettingsError(f"{name} has too little entropy: generate one with `keyrelay kek generate`")
    return raw


def load_keks(settings: KeyvaultSettings) -> dict[str, bytes]:
    if not settings.keyvault_keks:
        raise SettingsError("no key-encryption key: set KEYRELAY_KEYVAULT_KEKS and KEYRELAY_KEYVAULT_PRIMARY_KEK")
    keks = {kek_id: check_kek(kek_id, value) for kek_id, value in settings.keyvault_keks.items()}
    if settings.keyvault_primary_kek not in keks:
        raise SettingsError("KEYRELAY_KEYVAULT_PRIMARY_KEK names no loaded key-encryption key")
    return keks
