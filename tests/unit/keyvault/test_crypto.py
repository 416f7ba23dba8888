"""Envelope encryption: what opens, what fails and with which named error."""

from __future__ import annotations

import hashlib
import secrets

import msgspec
import pytest

from keyvault.crypto import (
    CiphertextMismatch,
    Envelope,
    Identity,
    MalformedEnvelope,
    RetiredKek,
    Sealer,
    UnknownKek,
)

SECRET = b'{"api_key":"sk-test-0123456789abcdef"}'


def ident(
    integration_id: str = "int_a",
    *,
    base_url: str = "https://api.openai.com/v1",
    version: int = 1,
    org_id: str = "org_1",
    provider: str = "openai",
    project_scope: str | list[str] = "all",
    fingerprint: str = "fp1",
) -> Identity:
    return Identity(
        org_id=org_id,
        integration_id=integration_id,
        provider=provider,
        base_url=base_url,
        project_scope=project_scope,  # type: ignore[arg-type]
        version=version,
        fingerprint=fingerprint,
    )


@pytest.fixture
def keks() -> dict[str, bytes]:
    return {"kek-old": secrets.token_bytes(32), "kek-new": secrets.token_bytes(32)}


def test_a_sealed_secret_opens_for_its_own_record(keks: dict[str, bytes]) -> None:
    """Seal then open with the same identity returns the plaintext."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    assert sealer.open(env, ident()) == SECRET
    assert env.kek_id == "kek-old"
    assert SECRET not in msgspec.json.encode(env)


def test_each_write_uses_a_fresh_data_key_and_nonce(keks: dict[str, bytes]) -> None:
    """Two seals of the same secret share no ciphertext, nonce or wrapped key."""
    sealer = Sealer(keks, "kek-old")
    a, b = sealer.seal(SECRET, ident()), sealer.seal(SECRET, ident())
    assert a.ciphertext != b.ciphertext
    assert a.nonce != b.nonce
    assert a.wrapped_key != b.wrapped_key


def test_swapping_ciphertexts_between_records_fails_with_ciphertext_mismatch(keks: dict[str, bytes]) -> None:
    """An envelope (or any part of it) copied onto another record does not open there."""
    sealer = Sealer(keks, "kek-old")
    a, b = sealer.seal(SECRET, ident("int_a")), sealer.seal(SECRET, ident("int_b"))
    with pytest.raises(CiphertextMismatch):
        sealer.open(a, ident("int_b"))
    mixed = msgspec.structs.replace(b, nonce=a.nonce, ciphertext=a.ciphertext)
    with pytest.raises(CiphertextMismatch):
        sealer.open(mixed, ident("int_b"))


@pytest.mark.parametrize("field", ["wrap_nonce", "wrapped_key", "nonce", "ciphertext"])
def test_flipping_any_byte_of_any_field_fails_with_a_named_error(keks: dict[str, bytes], field: str) -> None:
    """Every single-bit flip, at every position, is detected."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    original: bytes = getattr(env, field)
    for i in range(len(original)):
        flipped = bytearray(original)
        flipped[i] ^= 0x01
        with pytest.raises(CiphertextMismatch):
            sealer.open(msgspec.structs.replace(env, **{field: bytes(flipped)}), ident())


def test_truncated_fields_fail_with_malformed_envelope(keks: dict[str, bytes]) -> None:
    """A shortened nonce is refused before any decryption is tried."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    with pytest.raises(MalformedEnvelope):
        sealer.open(msgspec.structs.replace(env, nonce=env.nonce[:-1]), ident())


@pytest.mark.parametrize(
    "changed",
    [
        ident(base_url="https://attacker.example/v1"),
        ident(org_id="org_2"),
        ident(provider="anthropic"),
        ident(version=2),
        ident(project_scope=["prj_1"]),
        ident(project_scope=[]),
        ident(fingerprint="fp2"),
    ],
    ids=["base-url", "org", "provider", "version", "scope-narrowed", "scope-empty", "fingerprint"],
)
def test_a_changed_identity_fails_with_ciphertext_mismatch(keks: dict[str, bytes], changed: Identity) -> None:
    """Base URL, org, provider, scope, version and fingerprint are all bound: changing one fails."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    with pytest.raises(CiphertextMismatch):
        sealer.open(env, changed)


def test_an_unknown_kek_id_fails_with_unknown_kek(keks: dict[str, bytes]) -> None:
    """A record naming a KEK that is not loaded does not open."""
    env = Sealer(keks, "kek-old").seal(SECRET, ident())
    with pytest.raises(UnknownKek):
        Sealer({"kek-new": keks["kek-new"]}, "kek-new").open(env, ident())
    with pytest.raises(UnknownKek):
        Sealer(keks, "kek-old").open(msgspec.structs.replace(env, kek_id="kek-gone"), ident())


def test_relabelling_the_kek_id_fails_even_when_that_kek_is_loaded(keks: dict[str, bytes]) -> None:
    """The KEK id is authenticated with the wrapped key."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    with pytest.raises(CiphertextMismatch):
        sealer.open(msgspec.structs.replace(env, kek_id="kek-new"), ident())


def test_a_retired_kek_fails_with_retired_kek_but_can_still_be_rewrapped(keks: dict[str, bytes]) -> None:
    """Reveals refuse a retired KEK; rotation can still move its records to the primary."""
    env = Sealer(keks, "kek-old").seal(SECRET, ident())
    sealer = Sealer(keks, "kek-new", retired={"kek-old"})
    with pytest.raises(RetiredKek):
        sealer.open(env, ident())
    assert sealer.open(sealer.rewrap(env, ident(), ident(version=2)), ident(version=2)) == SECRET


def test_rewrap_moves_the_data_key_and_never_touches_the_ciphertext(keks: dict[str, bytes]) -> None:
    """Rotation changes the KEK id and wrapped key only; the secret's nonce and ciphertext are identical."""
    env = Sealer(keks, "kek-old").seal(SECRET, ident())
    sealer = Sealer(keks, "kek-new")
    moved = sealer.rewrap(env, ident(), ident(version=2))
    assert (moved.kek_id, moved.nonce, moved.ciphertext) == ("kek-new", env.nonce, env.ciphertext)
    assert moved.wrapped_key != env.wrapped_key
    assert sealer.open(moved, ident(version=2)) == SECRET
    with pytest.raises(CiphertextMismatch):  # the re-wrapped key is bound to the new version only
        sealer.open(moved, ident())
    with pytest.raises(UnknownKek):
        Sealer({"kek-old": keks["kek-old"]}, "kek-old").open(moved, ident(version=2))


def test_a_scope_change_rebinds_the_data_key_and_the_old_binding_stops_opening(keks: dict[str, bytes]) -> None:
    """Re-wrapping to a narrower scope at the next version: the all-scoped binding no longer opens it."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    narrowed = ident(project_scope=["prj_1"], version=2)
    moved = sealer.rewrap(env, ident(), narrowed)
    assert sealer.open(moved, narrowed) == SECRET
    for stale in (ident(), ident(version=2), ident(project_scope=["prj_1"])):
        with pytest.raises(CiphertextMismatch):
            sealer.open(moved, stale)


def test_a_rewrap_cannot_change_what_the_secret_is_or_launder_a_tampered_record(keks: dict[str, bytes]) -> None:
    """Base URL or org cannot change in a re-wrap, and a record that does not authenticate is not re-wrapped."""
    sealer = Sealer(keks, "kek-old")
    env = sealer.seal(SECRET, ident())
    with pytest.raises(MalformedEnvelope):
        sealer.rewrap(env, ident(), ident(base_url="https://attacker.example/v1", version=2))
    with pytest.raises(CiphertextMismatch):
        sealer.rewrap(env, ident(project_scope=["prj_1"]), ident(version=2))


def test_the_primary_must_be_loaded_and_not_retired(keks: dict[str, bytes]) -> None:
    """A sealer cannot be built around a missing or retired primary."""
    with pytest.raises(UnknownKek):
        Sealer(keks, "kek-missing")
    with pytest.raises(RetiredKek):
        Sealer(keks, "kek-old", retired={"kek-old"})


def test_fingerprints_are_keyed_stable_and_org_scoped(keks: dict[str, bytes]) -> None:
    """Same secret, same org: same fingerprint; it is no plain hash and differs per org and per KEK."""
    sealer = Sealer(keks, "kek-old")
    fp = sealer.fingerprint("org_1", SECRET)
    assert fp == sealer.fingerprint("org_1", SECRET)
    assert fp != sealer.fingerprint("org_2", SECRET)
    assert fp != Sealer(keks, "kek-new").fingerprint("org_1", SECRET)
    plain = {hashlib.sha256(SECRET).hexdigest(), hashlib.blake2b(SECRET).hexdigest(), hashlib.md5(SECRET).hexdigest()}  # noqa: S324
    assert not any(p.startswith(fp) for p in plain)


def test_envelope_round_trips_through_msgspec() -> None:
    """The stored form keeps bytes as bytes."""
    env = Envelope(
        kek_id="k", wrap_nonce=b"\x00" * 24, wrapped_key=b"\x01" * 48, nonce=b"\x02" * 24, ciphertext=b"\x03" * 40
    )
    assert msgspec.convert(msgspec.to_builtins(env, builtin_types=(bytes,)), Envelope, builtin_types=(bytes,)) == env
