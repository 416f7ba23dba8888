"""Fresh key material for a development stack or a test session (never the sample values)."""

from __future__ import annotations

import base64
import secrets

from nacl.public import PrivateKey
from nacl.signing import SigningKey


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def new_kek() -> tuple[str, str]:
    return f"kek-{secrets.token_hex(4)}", _b64(secrets.token_bytes(32))


def generate_dev_keys() -> dict[str, str]:
    kek_id, kek = new_kek()
    keyvault = PrivateKey.generate()
    gateway = SigningKey.generate()
    catalog = SigningKey.generate()
    return {
        "KEYRELAY_KEYVAULT_KEKS": f'{{"{kek_id}": "{kek}"}}',
        "KEYRELAY_KEYVAULT_PRIMARY_KEK": kek_id,
        "KEYRELAY_KEYVAULT_PRIVATE_KEY": _b64(bytes(keyvault)),
        "KEYRELAY_KEYVAULT_PUBLIC_KEY": _b64(bytes(keyvault.public_key)),
        "KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY": _b64(bytes(gateway.verify_key)),
        "KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY": _b64(bytes(catalog.verify_key)),
        "KEYRELAY_GATEWAY_SIGNING_KEY": _b64(bytes(gateway)),
        "KEYRELAY_CATALOG_SIGNING_KEY": _b64(bytes(catalog)),
    }
