"""Keyvault's protocol helpers for its callers.

* `seal_for_keyvault()` — the gateway seals raw credentials at the HTTP edge, so no service in
  between (and no bus message) ever holds them in clear.
* `assertions` — owner assertions catalog signs and keyvault verifies.
* `devkeys` — fresh key material for a development stack or a test session.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from nacl.public import PublicKey, SealedBox

from shared.errors import KeyrelayError
from shared.secret import secret_enc_hook


def public_key(b64: str) -> PublicKey:
    """Keyvault's pinned X25519 public key from its base64 setting."""
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != PublicKey.SIZE:
        raise KeyrelayError("dependency_unavailable", "keyvault public key is not configured")
    return PublicKey(raw)


def seal_for_keyvault(payload: dict[str, Any], keyvault_public_key: str) -> bytes:
    """Encrypt a credential payload so only keyvault can open it (anonymous sender, X25519 SealedBox).

    `payload` is `{"api_key"?, "service_account_json"?, "headers": {name: value}}`; `Secret` values
    are refused rather than sealed as "[redacted]".
    """
    try:
        plaintext = msgspec.json.encode(payload, enc_hook=_refuse_secret)
    except TypeError:
        raise KeyrelayError("invalid_credentials", "credentials must be plain JSON values") from None
    return bytes(SealedBox(public_key(keyvault_public_key)).encrypt(plaintext))


def _refuse_secret(obj: Any) -> Any:
    secret_enc_hook(obj)  # raises NotImplementedError for anything not a Secret
    raise TypeError("reveal a Secret explicitly before sealing it")


__all__ = ["public_key", "seal_for_keyvault"]
