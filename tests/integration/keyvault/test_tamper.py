"""Tampering with stored records in MongoDB: every change fails to open, with a named error."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import KeyrelayError
from tests.integration.keyvault.conftest import KeyvaultProcess, Kv


async def reveal_error(kv: Kv, org_id: str, integration_id: str) -> str:
    with pytest.raises(KeyrelayError) as info:
        await kv.reveal(org_id, integration_id)
    assert info.value.code == "internal_error"
    return info.value.message


async def two_records(kv: Kv) -> tuple[tuple[str, str], tuple[str, str]]:
    return await kv.create(), await kv.create()


async def test_swapping_envelopes_between_records_fails_with_ciphertext_mismatch(
    kv_live: Kv, kv_keyvault: KeyvaultProcess
) -> None:
    """A ciphertext copied onto another record (even with its wrapped key) does not open there."""
    (org_a, int_a), (org_b, int_b) = await two_records(kv_live)
    doc_a = await kv_live.collection.find_one({"_id": int_a})
    await kv_live.collection.update_one({"_id": int_b}, {"$set": {"envelope": doc_a["envelope"]}})
    assert "CiphertextMismatch" in await reveal_error(kv_live, org_b, int_b)
    assert "decrypt_failed" in kv_keyvault.log_text()
    assert (await kv_live.reveal(org_a, int_a)).credential.api_key is not None


async def test_swapping_only_the_secret_ciphertext_fails_with_ciphertext_mismatch(kv_live: Kv) -> None:
    """Nonce and ciphertext moved without the wrapped key fail under the record's own data key."""
    (_, int_a), (org_b, int_b) = await two_records(kv_live)
    env_a = (await kv_live.collection.find_one({"_id": int_a}))["envelope"]
    await kv_live.collection.update_one(
        {"_id": int_b}, {"$set": {"envelope.nonce": env_a["nonce"], "envelope.ciphertext": env_a["ciphertext"]}}
    )
    assert "CiphertextMismatch" in await reveal_error(kv_live, org_b, int_b)


@pytest.mark.parametrize("field", ["wrap_nonce", "wrapped_key", "nonce", "ciphertext"])
async def test_a_flipped_byte_in_any_stored_field_fails_with_ciphertext_mismatch(kv_live: Kv, field: str) -> None:
    """One flipped bit anywhere in the envelope is detected."""
    org_id, integration_id = await kv_live.create()
    value: bytes = (await kv_live.collection.find_one({"_id": integration_id}))["envelope"][field]
    flipped = bytearray(value)
    flipped[len(flipped) // 2] ^= 0x80
    await kv_live.collection.update_one({"_id": integration_id}, {"$set": {f"envelope.{field}": bytes(flipped)}})
    assert "CiphertextMismatch" in await reveal_error(kv_live, org_id, integration_id)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"base_url": "https://attacker.example/v1"}, "CiphertextMismatch"),
        ({"provider": "groq"}, "CiphertextMismatch"),
        ({"version": 7}, "CiphertextMismatch"),
        ({"envelope.kek_id": "kek-unknown"}, "UnknownKek"),
        ({"envelope.nonce": b"short"}, "MalformedEnvelope"),
    ],
    ids=["base-url", "provider", "version", "unknown-kek", "truncated-nonce"],
)
async def test_changing_a_records_binding_behind_keyvaults_back_fails_with_a_named_error(
    kv_live: Kv, changes: dict[str, Any], error: str
) -> None:
    """A base URL pointed at an attacker, a relabelled provider or version, or an unknown KEK: nothing opens."""
    org_id, integration_id = await kv_live.create()
    await kv_live.collection.update_one({"_id": integration_id}, {"$set": changes})
    assert error in await reveal_error(kv_live, org_id, integration_id)
    failures = [e for e in await kv_live.audit_events(integration_id, expect=2) if e.outcome == "failed"]
    assert failures[0].detail["error"] == error
