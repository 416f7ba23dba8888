"""Envelope encryption: a fresh data key per write, wrapped by a named key-encryption key (KEK).

    secret payload --XChaCha20-Poly1305(data key, AAD = "secret" + what the secret is)--> ciphertext
    data key       --XChaCha20-Poly1305(KEK,      AAD = "wrap" + every decided-on field + kek id)--> wrapped key

What the secret is: (org, integration, provider, base URL). Every field keyvault decides on is
bound into the wrapped key: those four plus the project scope, the other hosts the owner bound the
key to (custom models' own hosts), the record version and the fingerprint it returns with a reveal,
and the KEK id. So a ciphertext copied onto another record,
a base URL, scope, version or provider changed behind keyvault's back, a flipped byte, a wrapped
key moved between KEKs or an unknown or retired KEK all fail to open, each with a named error.
A data key is fresh for every put, so a ciphertext only ever opens with the wrapped keys of its
own put. A scope change, a change of the model hosts and a rotation re-wrap the data key under a new
binding (a new version);
the secret's own ciphertext and nonce never change. That an old, still authentic record was put
back is caught by the version floor (`keyvault.floors`), not here.

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

from shared.messages.base import ProjectScope

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


Scope = ProjectScope


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """What a record's envelope is bound to: everything keyvault decides on or hands out."""

    org_id: str
    integration_id: str
    provider: str
    base_url: str
    project_scope: Scope
    version: int
    fingerprint: str
    # the custom models' own hosts the owner saved: the key may also be sent there (sorted, unique)
    model_base_urls: list[str] = []

    def content(self) -> tuple[str, str, str, str]:
        """What the secret is; a re-wrap may change anything but this."""
        return (self.org_id, self.integration_id, self.provider, self.base_url)

    def secret_aad(self) -> bytes:
        """Canonical, unambiguous encoding (a JSON array), domain-separated from the wrap."""
        return msgspec.json.encode([_SCHEME, "secret", *self.content()])

    def wrap_aad(self, kek_id: str) -> bytes:
        fields = [_SCHEME, "wrap", *self.content(), self.project_scope, self.version, self.fingerprint, kek_id]
        if self.model_base_urls:  # only when there are any: records from before they existed still open
            fields.append(["model_base_urls", *self.model_base_urls])
        return msgspec.json.encode(fields)


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

    def _kek(self, kek_id: str, *, allow_retired: bool = False) -> bytes:
        if kek_id in self._retired and not allow_retired:
            raise RetiredKek(f"KEK {kek_id} is retired")
        kek = self._keks.get(kek_id)
        if kek is None:
            raise UnknownKek(f"KEK {kek_id} is not loaded")
        return kek

    def seal(self, plaintext: bytes, ident: Identity) -> Envelope:
        data_key = secrets.token_bytes(KEY_BYTES)
        nonce, ciphertext = _encrypt(data_key, plaintext, ident.secret_aad())
        wrap_nonce, wrapped = _encrypt(self._kek(self.primary), data_key, ident.wrap_aad(self.primary))
        return Envelope(
            kek_id=self.primary, wrap_nonce=wrap_nonce, wrapped_key=wrapped, nonce=nonce, ciphertext=ciphertext
        )

    def _data_key(self, env: Envelope, ident: Identity, *, allow_retired: bool = False) -> bytes:
        kek = self._kek(env.kek_id, allow_retired=allow_retired)
        data_key = _decrypt(kek, env.wrap_nonce, env.wrapped_key, ident.wrap_aad(env.kek_id), "wrapped_key")
        if len(data_key) != KEY_BYTES:
            raise MalformedEnvelope("data key has the wrong length")
        return data_key

    def open(self, env: Envelope, ident: Identity) -> bytes:
        return _decrypt(self._data_key(env, ident), env.nonce, env.ciphertext, ident.secret_aad(), "ciphertext")

    def rewrap(self, env: Envelope, old: Identity, new: Identity) -> Envelope:
        """Bind the data key to `new` under the primary KEK (also from a retired one).

        Only the binding may change (scope, version, KEK): the ciphertext and nonce stay as they are,
        so what the secret is (org, integration, provider, base URL) cannot. The whole old envelope
        must authenticate first, so a tampered record is never laundered into a valid one.
        """
        if old.content() != new.content():
            raise MalformedEnvelope("a re-wrap cannot change what the secret is")
        data_key = self._data_key(env, old, allow_retired=True)
        _decrypt(data_key, env.nonce, env.ciphertext, old.secret_aad(), "ciphertext")
        wrap_nonce, wrapped = _encrypt(self._kek(self.primary), data_key, new.wrap_aad(self.primary))
        return msgspec.structs.replace(env, kek_id=self.primary, wrap_nonce=wrap_nonce, wrapped_key=wrapped)

    def fingerprint(self, org_id: str, plaintext: bytes) -> str:
        """A short keyed hash: equal for the same secret in one org (under one primary KEK), not reversible."""
        digest = hashlib.blake2b(key=self._fingerprint_key, digest_size=12, person=b"krfp-v1")
        digest.update(msgspec.json.encode([org_id]))
        digest.update(plaintext)
        return digest.hexdigest()
