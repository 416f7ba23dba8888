"""Keyvault's protocol helpers shared by its callers: sealing credentials to keyvault."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from nacl.public import PublicKey, SealedBox

from shared.errors import KeyrelayError


def public_key(b64: str) -> PublicKey:
    try:
        return PublicKey(base64.b64decode(b64))
    except Exception:
        raise KeyrelayError("dependency_unavailable", "keyvault public key is not configured") from None


def seal_for_keyvault(payload: dict[str, Any], keyvault_public_key_b64: str) -> bytes:
    """Encrypt a credential payload so only keyvault can open it (anonymous sender, X25519)."""
    return bytes(SealedBox(public_key(keyvault_public_key_b64)).encrypt(msgspec.json.encode(payload)))


__all__ = ["public_key", "seal_for_keyvault"]
