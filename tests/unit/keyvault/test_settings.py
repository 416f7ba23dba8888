"""Keyvault refuses to start on missing, weak, sample or inconsistent key material."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path

import pytest

from keyvault.settings import SAMPLE_VALUES, KeyvaultSettings, check_random, load_key_material
from shared.settings import SettingsError, load_settings, read_env_file
from shared.vault.devkeys import generate_dev_keys

SAMPLE_FILE = Path(__file__).resolve().parents[3] / "deploy" / "keyvault.env.sample"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def settings(**overrides: str) -> KeyvaultSettings:
    env = {k: v for k, v in generate_dev_keys().items() if k.startswith("KEYRELAY_KEYVAULT_")}
    env.update(overrides)
    return load_settings(KeyvaultSettings, {k: v for k, v in env.items() if v is not None}, env_file=Path(os.devnull))


def refusal(**overrides: str) -> str:
    with pytest.raises(SettingsError) as info:
        load_key_material(settings(**overrides))
    return str(info.value)


def test_fresh_development_keys_are_accepted() -> None:
    """`generate_dev_keys()` yields material keyvault starts with."""
    material = load_key_material(settings())
    assert material.primary in material.keks


@pytest.mark.parametrize(
    ("kek", "phrase"),
    [
        (b64(secrets.token_bytes(16)), "must decode to 32 bytes"),
        (b64(bytes(32)), "all zero"),
        (b64(bytes(range(4)) * 8), "repeats a pattern"),
        (b64(bytes.fromhex("b32a13a7d22af42a912a80f4c513b3b3f41313f4e9a7b3a713e98091a72a80c5")), "too little entropy"),
        (b64(b"correct horse battery staple 123"), "readable text"),
        ("not base64!", "not valid base64"),
        (b64(bytes(range(32))), "arithmetic sequence"),
        (b64(bytes(range(255, 223, -1))), "arithmetic sequence"),
        (b64(bytes(range(0, 224, 7))), "arithmetic sequence"),
        (b64(bytes((i * i) % 256 for i in range(32))), "arithmetic sequence"),
        (b64(bytes.fromhex("a54dca182530bb1d6d132cded6237b2e") * 2), "repeats a pattern"),
        (b64(hashlib.sha256(b"password").digest()), "hash of a guessable word"),
        (b64(hashlib.sha256(b"Keyrelay").digest()), "hash of a guessable word"),
        (b64(hashlib.sha256(b"k1").digest()), "hash of a guessable word"),
        (b64(bytes.fromhex("f59ff9bfe7efafdeb7fbeefffe6f7bbe7e3fedddf3dbbd7ffabb777df6fddfcf")), "zero or one bits"),
        (b64(b"sk-live-0123456789abcdef012345\x01\x02"), "readable text"),
    ],
)
def test_a_weak_kek_is_refused_with_a_message_that_never_contains_it(kek: str, phrase: str) -> None:
    """Short, all-zero, counting, repeating, textual, biased, word-hash or undecodable KEKs are refused
    by name, not by value."""
    message = refusal(KEYRELAY_KEYVAULT_KEKS=json.dumps({"k1": kek}), KEYRELAY_KEYVAULT_PRIMARY_KEK="k1")
    assert phrase in message
    assert "KEYRELAY_KEYVAULT_KEKS[k1]" in message
    assert kek not in message


def test_no_kek_at_all_is_refused() -> None:
    """An empty KEK map names the settings to set."""
    assert "no key-encryption key" in refusal(KEYRELAY_KEYVAULT_KEKS="{}")


def test_an_unknown_primary_is_refused() -> None:
    """The primary id must name a loaded KEK."""
    assert "names no KEK" in refusal(KEYRELAY_KEYVAULT_PRIMARY_KEK="kek-nope")


def test_a_retired_primary_is_refused() -> None:
    """The primary cannot also be retired."""
    kek = b64(secrets.token_bytes(32))
    message = refusal(
        KEYRELAY_KEYVAULT_KEKS=json.dumps({"k1": kek}),
        KEYRELAY_KEYVAULT_PRIMARY_KEK="k1",
        KEYRELAY_KEYVAULT_RETIRED_KEKS='["k1"]',
    )
    assert "RETIRED" in message


def test_the_same_kek_under_two_ids_is_refused() -> None:
    """Two ids for one key would make rotation a no-op that looks done."""
    kek = b64(secrets.token_bytes(32))
    message = refusal(KEYRELAY_KEYVAULT_KEKS=json.dumps({"a": kek, "b": kek}), KEYRELAY_KEYVAULT_PRIMARY_KEK="a")
    assert "same key under two ids" in message


def test_every_key_in_the_shipped_sample_file_is_refused() -> None:
    """The sample's placeholders are known to keyvault and refused, one variable at a time and all together."""
    sample = read_env_file(SAMPLE_FILE)
    keks = json.loads(sample["KEYRELAY_KEYVAULT_KEKS"])
    placeholders = [*keks.values()] + [
        sample[k]
        for k in (
            "KEYRELAY_KEYVAULT_PRIVATE_KEY",
            "KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY",
            "KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY",
        )
    ]
    assert set(placeholders) <= SAMPLE_VALUES
    with pytest.raises(SettingsError, match="placeholder"):
        load_key_material(load_settings(KeyvaultSettings, sample, env_file=Path(os.devnull)))
    for kek_id, value in keks.items():
        assert "placeholder" in refusal(
            KEYRELAY_KEYVAULT_KEKS=json.dumps({kek_id: value}), KEYRELAY_KEYVAULT_PRIMARY_KEK=kek_id
        )
    for name in (
        "KEYRELAY_KEYVAULT_PRIVATE_KEY",
        "KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY",
        "KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY",
    ):
        message = refusal(**{name: sample[name]})
        assert name in message
        assert sample[name] not in message


@pytest.mark.parametrize(
    "name",
    ["KEYRELAY_KEYVAULT_PRIVATE_KEY", "KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY", "KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY"],
)
def test_each_identity_key_is_required(name: str) -> None:
    """Keyvault will not start without its own key or either pinned verify key."""
    assert f"{name} is required" in refusal(**{name: ""})


def test_gateway_and_catalog_keys_must_differ() -> None:
    """One key for both roles would let the gateway sign owner assertions."""
    key = b64(secrets.token_bytes(32))
    message = refusal(KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY=key, KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY=key)
    assert "must differ" in message


def test_fresh_random_keys_pass_the_randomness_checks() -> None:
    """The statistical thresholds leave random keys alone (each fails with a probability below 1e-8)."""
    for _ in range(500):
        check_random("KEK", secrets.token_bytes(32))


@pytest.mark.parametrize(
    "reused",
    [
        "KEYRELAY_KEYVAULT_PRIVATE_KEY",
        "KEYRELAY_KEYVAULT_PUBLIC_KEY",
        "KEYRELAY_GATEWAY_SIGNING_KEY",
        "KEYRELAY_CATALOG_SIGNING_KEY",
        "KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY",
        "KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY",
    ],
)
def test_a_kek_that_is_any_other_configured_key_is_refused(reused: str) -> None:
    """A KEK equal to keyvault's private key, a signing key (recognised by its public half) or any public
    key is refused, naming both settings and neither value."""
    keys = generate_dev_keys()
    kek = keys[reused]
    env = {k: v for k, v in keys.items() if k.startswith("KEYRELAY_KEYVAULT_")}
    env.update(KEYRELAY_KEYVAULT_KEKS=json.dumps({"k1": kek}), KEYRELAY_KEYVAULT_PRIMARY_KEK="k1")
    with pytest.raises(SettingsError) as info:
        load_key_material(load_settings(KeyvaultSettings, env, env_file=Path(os.devnull)))
    message = str(info.value)
    assert "KEYRELAY_KEYVAULT_KEKS[k1]" in message
    assert "every key must be its own" in message
    assert kek not in message


def test_keyvaults_private_key_may_not_be_a_services_signing_key() -> None:
    """Keyvault's X25519 key reused as the gateway's Ed25519 signing seed is refused."""
    keys = generate_dev_keys()
    env = {k: v for k, v in keys.items() if k.startswith("KEYRELAY_KEYVAULT_")}
    env["KEYRELAY_KEYVAULT_PRIVATE_KEY"] = keys["KEYRELAY_GATEWAY_SIGNING_KEY"]
    with pytest.raises(SettingsError, match=r"KEYRELAY_KEYVAULT_PRIVATE_KEY .*every key must be its own"):
        load_key_material(load_settings(KeyvaultSettings, env, env_file=Path(os.devnull)))


def test_two_keks_under_different_ids_that_are_the_same_key_are_still_refused() -> None:
    """Reuse among KEKs is refused too (rotation onto the same key would look done and change nothing)."""
    kek = b64(secrets.token_bytes(32))
    assert "same key under two ids" in refusal(
        KEYRELAY_KEYVAULT_KEKS=json.dumps({"a": kek, "b": kek}), KEYRELAY_KEYVAULT_PRIMARY_KEK="a"
    )
