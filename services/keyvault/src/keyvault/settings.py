"""Keyvault settings and the start-up refusals for weak or sample key material.

Every refusal is a `SettingsError` whose message names the variable and the problem, never the
value. Keyvault checks all of this before it opens a single connection.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from shared.secret import Secret
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
_MIN_DISTINCT_STEPS: Final = 12  # distinct differences between neighbouring bytes (of 31)
_MAX_PRINTABLE: Final = 30  # printable ASCII bytes (of 32)
_MAX_BIT_BIAS: Final = 48  # set bits away from 128 (6 standard deviations)
_GUESSABLE_WORDS: Final = (
    "",
    "kek",
    "key",
    "secret",
    "password",
    "passw0rd",
    "changeme",
    "change-me",
    "replace-me",
    "keyrelay",
    "keyvault",
    "master",
    "masterkey",
    "master-key",
    "default",
    "admin",
    "root",
    "test",
    "testing",
    "example",
    "sample",
    "dev",
    "development",
    "prod",
    "production",
    "letmein",
    "qwerty",
    "123456",
    "12345678",
    "0123456789",
    "hunter2",
    "primary",
    "kek-1",
    "kek1",
    "k1",
)


class KeyvaultSettings(CommonSettings, frozen=True, kw_only=True):
    keyvault_db: str = "keyrelay_keyvault"
    keyvault_keks: dict[str, Secret] = {}  # {kek_id: base64 of 32 random bytes}
    keyvault_primary_kek: str = ""
    keyvault_retired_keks: list[str] = []  # still loaded for `kek rotate`, never used to reveal
    keyvault_private_key: Secret = Secret("")  # base64 X25519 secret key: opens sealed writes, boxes reveals
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


def decode_key(name: str, given: str | Secret, *, length: int = 32) -> bytes:
    value = given.reveal() if isinstance(given, Secret) else given
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


def _derived_from_a_word(raw: bytes, context: Iterable[str]) -> bool:
    """Is `raw` a plain hash of a guessable word (or of the key's own id)? Only a known list can be checked."""
    for word in (*_GUESSABLE_WORDS, *context):
        for form in {word, word.lower(), word.upper(), word.capitalize()}:
            data = form.encode()
            digests = (
                hashlib.sha256(data).digest(),
                hashlib.sha3_256(data).digest(),
                hashlib.blake2b(data, digest_size=32).digest(),
                hashlib.blake2s(data).digest(),
            )
            if raw in digests:
                return True
    return False


def _weakness(raw: bytes, context: Iterable[str]) -> str | None:
    """Why `raw` is plainly not 32 random bytes, or None.

    Each statistical threshold is far outside what random keys show (200,000 fresh keys: at least
    23 distinct bytes, at least 22 distinct steps, at most 24 printable bytes, at most 37 set bits
    away from 128); a random key fails one with a probability below 1e-8.
    """
    if raw == bytes(len(raw)):
        return "is all zero"
    if any(raw[period:] == raw[:-period] for period in range(1, len(raw) // 2 + 1)):
        return "repeats a pattern, not random bytes"
    steps = [(b - a) % 256 for a, b in itertools.pairwise(raw)]
    steps_of_steps = [(b - a) % 256 for a, b in itertools.pairwise(steps)]
    if len(set(steps)) < _MIN_DISTINCT_STEPS or len(set(steps_of_steps)) < _MIN_DISTINCT_STEPS:
        return "is a counting or arithmetic sequence, not random bytes"
    if len(set(raw)) < _MIN_DISTINCT_BYTES:
        return "has too little entropy (repeated bytes)"
    if list(raw) in (sorted(raw), sorted(raw, reverse=True)):
        return "is a sorted sequence, not random bytes"
    if sum(0x20 <= b < 0x7F for b in raw) >= _MAX_PRINTABLE:
        return "is readable text, not random bytes"
    ones = sum(b.bit_count() for b in raw)
    if abs(ones - 4 * len(raw)) > _MAX_BIT_BIAS:
        return "has far too many zero or one bits to be random"
    if _derived_from_a_word(raw, context):
        return "is the hash of a guessable word"
    return None


def check_random(name: str, raw: bytes, *, context: Iterable[str] = ()) -> bytes:
    """Refuse material that is plainly not random: known weak patterns plus a few statistical tests.

    `context` adds words the key must not be a hash of (e.g. its own id). A key derived from a secret
    word nobody lists cannot be recognised; keys must come from `keyrelay kek generate`.
    """
    reason = _weakness(raw, context)
    if reason is not None:
        raise SettingsError(f"{name} {reason}: {_GENERATE_HINT}")
    return raw


def _check_no_reuse(named: dict[str, bytes], derived: dict[str, bytes]) -> None:
    """Every key is its own: no two configured keys (or a key and a public key it yields) may be equal."""
    seen: dict[bytes, str] = {}
    for name, raw in named.items():
        other = seen.get(raw)
        if other is not None:
            raise SettingsError(f"{name} reuses {other}: every key must be its own ({_GENERATE_HINT})")
        seen[raw] = name
    for name, raw in derived.items():
        other = seen.get(raw)
        if other is not None:
            raise SettingsError(f"{name} is the key behind {other}: every key must be its own ({_GENERATE_HINT})")


def load_keks(settings: KeyvaultSettings) -> dict[str, bytes]:
    if not settings.keyvault_keks:
        raise SettingsError("no key-encryption key: set KEYRELAY_KEYVAULT_KEKS and KEYRELAY_KEYVAULT_PRIMARY_KEK")
    keks: dict[str, bytes] = {}
    for kek_id, value in settings.keyvault_keks.items():
        name = f"KEYRELAY_KEYVAULT_KEKS[{kek_id}]"
        if not kek_id or len(kek_id) > 64 or not kek_id.replace("-", "").replace("_", "").isalnum():
            raise SettingsError("KEYRELAY_KEYVAULT_KEKS has an invalid KEK id (1-64 letters, digits, - or _)")
        keks[kek_id] = check_random(name, decode_key(name, value), context=(kek_id,))
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
    named_keks = {f"KEYRELAY_KEYVAULT_KEKS[{kek_id}]": raw for kek_id, raw in keks.items()}
    public = bytes(PrivateKey(private).public_key)
    _check_no_reuse(
        {
            **named_keks,
            "KEYRELAY_KEYVAULT_PRIVATE_KEY": private,
            "KEYRELAY_KEYVAULT_PUBLIC_KEY": public,
            "KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY": gateway,
            "KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY": catalog,
        },
        # the public halves a secret would have as a signing or box key: equal to a configured public
        # key means the secret *is* the gateway's or catalog's signing key (or keyvault's private key)
        {
            **{f"{name} (as a signing key)": bytes(SigningKey(raw).verify_key) for name, raw in named_keks.items()},
            **{f"{name} (as a box key)": bytes(PrivateKey(raw).public_key) for name, raw in named_keks.items()},
            "KEYRELAY_KEYVAULT_PRIVATE_KEY (as a signing key)": bytes(SigningKey(private).verify_key),
        },
    )
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
