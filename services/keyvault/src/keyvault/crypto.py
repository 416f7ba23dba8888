"""Envelope encryption: a fresh data key per write, wrapped by a named key-encryption key (KEK).

    secret payload --XChaCha20-Poly1305(data key, AAD = "secret" + record identity)--> ciphertext
    data key       --XChaCha20-Poly1305(KEK,      AAD = "wrap" + record identity + kek id)--> wrapped key

The record identity is (org, integration, provider, base URL, version), so a ciphertext copied onto
another record, a base URL changed behind keyvault's back, a flipped byte, a wrapped key moved
between KEKs or an unknown or retired KEK all fail to open, each with a named error. Rotation
re-wraps the data key only: the secret's own ciphertext and nonce never change.

Fingerprints are keyed (BLAKE2b under a key derived from the primary KEK), so a stored
fingerprint cannot be used to test guesses of the secret without the KEK.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping

import msgspec
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_encrypt
from nacl.exceptions import CryptoError

KEY_BYTES = 32
NONCE_BYTES = 24
TAG_BYTES = 16
_SCHEME = "keyrelay.credential.v1"


class VaultCryptoError(Exception):
    """Base of the named failures to open a stored credential. Messages never carry key material."""


class UnknownKek(VaultCryptoError):
    """The record names a KEK that is not loaded."""


class RetiredKek(VaultCryptoError):
    """The record is still wrapped by a KEK the operator retired; `keyrelay kek rotate` moves it."""


class CiphertextMismatch(VaultCryptoError):
    """A wrapped key or ciphertext does not authenticate for this record (moved, tampered, re-bound)."""

    def __init__(self, part: str) -> None:
        super().__init__(f"{part} does not authenticate for this record")
        self.part = part


class MalformedEnvelope(VaultCryptoError):
    """A stored field has the wrong length or type."""


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """What a ciphertext is bound to."""

    org_id: str
    integration_id: str
    provider: str
    base_url: str
    version: int

    def aad(self, purpose: str, *extra: str) -> bytes:
        """Canonical, unambiguous encoding (a JSON array), domain-separated by `purpose`."""
        fields = [_SCHEME, purpose, self.org_id, self.integration_id, self.provider, self.base_url, self.version]
        return msgspec.json.encode([*fields, *extra])


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """The stored, encrypted form of one credential."""

    kek_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, bytes(crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key))


def _decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, part: str) -> bytes:
    if len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
        raise MalformedEnvelope(f"{part} has the wrong length")
    try:
        return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key))
    except CryptoError:
        raise CiphertextMismatch(part) from None


class Sealer:
    """Holds the loaded KEKs; seals, opens and re-wraps envelopes."""

    def __init__(self, keks: Mapping[str, bytes], primary: str, retired: Iterable[str] = ()) -> None:
        if primary not in keks:
            raise UnknownKek("the primary KEK is not loaded")
        self._keks = dict(keks)
        self._retired = frozenset(retired)
        if primary in self._retired:
            raise RetiredKek("the primary KEK cannot be retired")
        self.primary = primary
        self._fingerprint_key = hashlib.blake2b(keks[primary], digest_size=32, person=b"krfp-key-v1").digest()

    @property
    def kek_ids(self) -> frozenset[str]:
        return frozenset(self._keks)

    def _kek(self, kek_id: str, *, allow_retired: bool = False) -> bytes:
        if kek_id in self._retired and not allow_retired:
            raise RetiredKek(f"KEK {kek_id} is retired")
        kek = self._keks.get(kek_id)
        if kek is None:
            raise UnknownKek(f"KEK {kek_id} is not loaded")
        return kek

    def seal(self, plaintext: bytes, ident: Identity) -> Envelope:
        data_key = secrets.token_bytes(KEY_BYTES)
        nonce, ciphertext = _encrypt(data_key, plaintext, ident.aad("secret"))
        wrap_nonce, wrapped = _encrypt(self._kek(self.primary), data_key, ident.aad("wrap", self.primary))
        return Envelope(
            kek_id=self.primary, wrap_nonce=wrap_nonce, wrapped_key=wrapped, nonce=nonce, ciphertext=ciphertext
        )

    def _data_key(self, env: Envelope, ident: Identity, *, allow_retired: bool = False) -> bytes:
        kek = self._kek(env.kek_id, allow_retired=allow_retired)
        data_key = _decrypt(kek, env.wrap_nonce, env.wrapped_key, ident.aad("wrap", env.kek_id), "wrapped_key")
        if len(data_key) != KEY_BYTES:
            raise MalformedEnvelope("data key has the wrong length")
        return data_key

    def open(self, env: Envelope, ident: Identity) -> bytes:
        return _decrypt(self._data_key(env, ident), env.nonce, env.ciphertext, ident.aad("secret"), "ciphertext")

    def rewrap(self, env: Envelope, ident: Identity) -> Envelope:
        """Move the data key under the primary KEK (also from a retired one); the ciphertext stays as it is."""
        if env.kek_id == self.primary:
            return env
        data_key = self._data_key(env, ident, allow_retired=True)
        wrap_nonce, wrapped = _encrypt(self._kek(self.primary), data_key, ident.aad("wrap", self.primary))
        return msgspec.structs.replace(env, kek_id=self.primary, wrap_nonce=wrap_nonce, wrapped_key=wrapped)

    def fingerprint(self, org_id: str, plaintext: bytes) -> str:
        """A short keyed hash: equal for the same secret in one org (under one primary KEK), not reversible."""
        digest = hashlib.blake2b(key=self._fingerprint_key, digest_size=12, person=b"krfp-v1")
        digest.update(msgspec.json.encode([org_id]))
        digest.update(plaintext)
        return digest.hexdigest()
