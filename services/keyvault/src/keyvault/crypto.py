"""Envelope encryption: a fresh data key per write, wrapped by a key-encryption key (KEK).

The secret is sealed with XChaCha20-Poly1305 under the data key, authenticated together with the
record's identity (org, integration, provider, base URL); the data key is wrapped under a KEK,
authenticated with the same identity plus the KEK id. So a ciphertext copied to another record,
a base URL changed behind keyvault's back, a flipped byte or an unknown KEK all fail to open.
Rotation re-wraps the data key only; the secret's ciphertext never changes.
"""

from __future__ import annotations

import secrets

import msgspec
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_encrypt
from nacl.exceptions import CryptoError

NONCE = 24


class VaultCryptoError(Exception):
    """Base of the named decryption failures (messages never contain key material)."""


class UnknownKek(VaultCryptoError):
    pass


class RetiredKek(VaultCryptoError):
    pass


class CiphertextMismatch(VaultCryptoError):
    """The ciphertext does not belong to this record (moved, tampered with, or re-bound)."""


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    kek_id: str
    wrapped_key: bytes
    ciphertext: bytes


def identity(org_id: str, integration_id: str, provider: str, base_url: str) -> bytes:
    return msgspec.json.encode(["keyrelay-credential-v1", org_id, integration_id, provider, base_url])


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) <= NONCE:
        raise CiphertextMismatch("ciphertext too short")
    try:
        return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(blob[NONCE:], aad, blob[:NONCE], key))
    except CryptoError:
        raise CiphertextMismatch("ciphertext does not authenticate for this record") from None


class Sealer:
    def __init__(self, keks: dict[str, bytes], primary: str, retired: set[str] | None = None) -> None:
        self._keks = dict(keks)
        self.primary = primary
        self._retired = retired or set()

    def _kek(self, kek_id: str) -> bytes:
        if kek_id in self._retired:
            raise RetiredKek(f"KEK {kek_id} is retired")
        kek = self._keks.get(kek_id)
        if kek is None:
            raise UnknownKek(f"KEK {kek_id} is not loaded")
        return kek

    def seal(self, plaintext: bytes, ident: bytes) -> Envelope:
        data_key = secrets.token_bytes(32)
        ciphertext = _seal(data_key, plaintext, ident)
        wrapped = _seal(self._kek(self.primary), data_key, ident + self.primary.encode())
        return Envelope(kek_id=self.primary, wrapped_key=wrapped, ciphertext=ciphertext)

    def open(self, env: Envelope, ident: bytes) -> bytes:
        data_key = _open(self._kek(env.kek_id), env.wrapped_key, ident + env.kek_id.encode())
        return _open(data_key, env.ciphertext, ident)

    def rewrap(self, env: Envelope, ident: bytes) -> Envelope:
        """Move the data key under the primary KEK; the secret's ciphertext stays as it is."""
        if env.kek_id == self.primary:
            return env
        data_key = _open(self._kek_for_rewrap(env.kek_id), env.wrapped_key, ident + env.kek_id.encode())
        wrapped = _seal(self._kek(self.primary), data_key, ident + self.primary.encode())
        return Envelope(kek_id=self.primary, wrapped_key=wrapped, ciphertext=env.ciphertext)

    def _kek_for_rewrap(self, kek_id: str) -> bytes:
        kek = self._keks.get(kek_id)
        if kek is None:
            raise UnknownKek(f"KEK {kek_id} is not loaded")
        return kek
