"""Decryption requests: only fresh requests signed by the gateway are answered, only for that request."""

from __future__ import annotations

import base64
import subprocess
import time
from typing import Any

import msgspec
import nats
import pytest
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey

from gateway.keyvault_client import KeyvaultClient
from shared import subjects
from shared.bus import BusClient, encode
from shared.embedded import executable, free_port, wait_for_port
from shared.errors import KeyrelayError
from shared.messages import keyvault as kv
from shared.tokens import new_id
from shared.vault.membership import sign_membership
from tests.integration.keyvault.conftest import Kv


def claims(org_id: str, integration_id: str, **overrides: Any) -> kv.RevealClaims:
    fields: dict[str, Any] = {
        "purpose": kv.REVEAL_PURPOSE,
        "request_id": new_id("kvr"),
        "expires_at": time.time() + 10,
        "org_id": org_id,
        "project_id": "prj_1",
        "integration_id": integration_id,
        "reply_key": bytes(PrivateKey.generate().public_key),
    }
    fields.update(overrides)
    return kv.RevealClaims(**fields)


def gateway_key(kv_: Kv) -> SigningKey:
    return SigningKey(base64.b64decode(kv_.keys["KEYRELAY_GATEWAY_SIGNING_KEY"]))


async def send(kv_: Kv, signed: bytes) -> kv.RevealGranted:
    reply = await kv_.bus.request(
        subjects.KEYVAULT_REVEAL, kv.RevealRequest(signed=signed), kv.RevealGranted, timeout_s=5.0
    )
    return reply


async def refused(kv_: Kv, signed: bytes) -> KeyrelayError:
    with pytest.raises(KeyrelayError) as info:
        await send(kv_, signed)
    return info.value


async def test_a_request_signed_by_another_key_is_refused(kv_live: Kv) -> None:
    """Only the pinned gateway key may ask for a decryption."""
    org_id, integration_id = await kv_live.create()
    forged = bytes(SigningKey.generate().sign(msgspec.json.encode(claims(org_id, integration_id))))
    error = await refused(kv_live, forged)
    assert (error.code, error.message) == ("forbidden", "decryption request refused (bad_signature)")


async def test_an_unsigned_request_is_refused(kv_live: Kv) -> None:
    """Bare claims without a signature, or garbage, are refused."""
    org_id, integration_id = await kv_live.create()
    for blob in (msgspec.json.encode(claims(org_id, integration_id)), b"", b"\x00" * 64):
        assert (await refused(kv_live, blob)).code == "forbidden"


async def test_a_tampered_signed_request_is_refused(kv_live: Kv) -> None:
    """Changing the project id inside a signed request breaks the signature."""
    org_id, integration_id = await kv_live.create(scope=["prj_a"])
    signed = gateway_key(kv_live).sign(msgspec.json.encode(claims(org_id, integration_id, project_id="prj_b")))
    tampered = bytes(signed).replace(b"prj_b", b"prj_a")
    assert (await refused(kv_live, tampered)).message.endswith("(bad_signature)")


async def test_an_expired_request_is_refused(kv_live: Kv) -> None:
    """A signed request past its expiry is refused and audited."""
    org_id, integration_id = await kv_live.create()
    signed = bytes(
        gateway_key(kv_live).sign(msgspec.json.encode(claims(org_id, integration_id, expires_at=time.time() - 1)))
    )
    assert (await refused(kv_live, signed)).message.endswith("(expired)")
    denied = [e for e in await kv_live.audit_events(integration_id, expect=2) if e.outcome == "denied"]
    assert denied[0].detail["reason"] == "expired"


async def test_a_request_valid_for_too_long_is_refused(kv_live: Kv) -> None:
    """Expiries further ahead than the allowed maximum age are refused (they would outlive the replay cache)."""
    org_id, integration_id = await kv_live.create()
    signed = bytes(
        gateway_key(kv_live).sign(msgspec.json.encode(claims(org_id, integration_id, expires_at=time.time() + 3600)))
    )
    assert (await refused(kv_live, signed)).message.endswith("(lifetime_too_long)")


async def test_a_replayed_request_is_refused(kv_live: Kv) -> None:
    """The same signed request id is answered once only."""
    org_id, integration_id = await kv_live.create()
    proof = kv_live.project_proof(org_id, "prj_1")
    signed = bytes(gateway_key(kv_live).sign(msgspec.json.encode(claims(org_id, integration_id, project_proof=proof))))
    await send(kv_live, signed)
    assert (await refused(kv_live, signed)).message.endswith("(replayed)")


async def test_a_signature_over_another_purpose_is_refused(kv_live: Kv) -> None:
    """Claims signed by the gateway for something other than a reveal are not a reveal."""
    org_id, integration_id = await kv_live.create()
    signed = bytes(gateway_key(kv_live).sign(msgspec.json.encode(claims(org_id, integration_id, purpose="other"))))
    assert (await refused(kv_live, signed)).code == "forbidden"


async def test_the_reply_opens_only_with_the_requests_one_time_key(kv_live: Kv) -> None:
    """Someone watching the bus (or replaying the reply) cannot open it without the one-time key."""
    org_id, integration_id = await kv_live.create()
    one_time = PrivateKey.generate()
    request = claims(
        org_id,
        integration_id,
        reply_key=bytes(one_time.public_key),
        project_proof=kv_live.project_proof(org_id, "prj_1"),
    )
    reply = await send(kv_live, bytes(gateway_key(kv_live).sign(msgspec.json.encode(request))))
    keyvault_public = PublicKey(base64.b64decode(kv_live.keys["KEYRELAY_KEYVAULT_PUBLIC_KEY"]))
    gateway = kv_live.new_gateway()
    assert gateway.open_reply(
        reply, one_time, request_id=request.request_id, integration_id=integration_id
    ).base_url.startswith("https://")
    with pytest.raises(KeyrelayError, match="another request"):
        gateway.open_reply(reply, one_time, request_id=new_id("kvr"), integration_id=integration_id)
    with pytest.raises(Exception, match="decrypt"):
        Box(PrivateKey.generate(), keyvault_public).decrypt(reply.boxed)


async def test_the_gateway_rejects_a_reply_from_an_impostor_keyvault(kv_keys: dict[str, str], tmp_path: Any) -> None:
    """On a bus where an impostor answers the reveal subject, the gateway refuses the reply."""
    port = free_port()
    proc = subprocess.Popen(
        [executable("nats-server"), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        nc = await nats.connect(f"nats://127.0.0.1:{port}")
        impostor = PrivateKey.generate()

        async def answer(msg: Any) -> None:
            request = msgspec.json.decode(msg.data, type=kv.RevealRequest)
            body = msgspec.json.decode(request.signed[64:], type=kv.RevealClaims)
            payload = kv.RevealedPayload(
                request_id=body.request_id,
                integration_id=body.integration_id,
                base_url="https://attacker.example",
                fingerprint="",
                secret={},
            )
            boxed = Box(impostor, PublicKey(body.reply_key)).encrypt(msgspec.json.encode(payload))
            await msg.respond(encode(kv.RevealGranted(boxed=bytes(boxed))))

        await nc.subscribe(subjects.KEYVAULT_REVEAL, cb=answer)
        client = KeyvaultClient(
            BusClient(nc),
            SigningKey(base64.b64decode(kv_keys["KEYRELAY_GATEWAY_SIGNING_KEY"])),
            PublicKey(base64.b64decode(kv_keys["KEYRELAY_KEYVAULT_PUBLIC_KEY"])),
        )
        with pytest.raises(KeyrelayError) as info:
            await client.reveal(org_id="org_1", project_id="prj_1", integration_id="int_1")
        assert info.value.message == "keyvault reply could not be authenticated"
        await nc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_no_keyvault_means_dependency_unavailable(kv_keys: dict[str, str]) -> None:
    """A gateway whose keyvault does not answer gets `dependency_unavailable`, not a hang."""
    port = free_port()
    proc = subprocess.Popen(
        [executable("nats-server"), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        nc = await nats.connect(f"nats://127.0.0.1:{port}")
        client = KeyvaultClient(BusClient(nc), SigningKey.generate(), PrivateKey.generate().public_key, timeout_s=0.5)
        with pytest.raises(KeyrelayError) as info:
            await client.reveal(org_id="o", project_id="p", integration_id="i")
        assert info.value.code == "dependency_unavailable"
        await nc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("proof", ["none", "other-org", "other-project", "forged"])
async def test_a_reveal_without_catalogs_word_that_the_project_is_the_orgs_is_refused_and_audited(
    kv_live: Kv, proof: str
) -> None:
    """An all-scoped credential is never revealed for a project catalog did not vouch for as this org's."""
    org_id, integration_id = await kv_live.create(scope="all")
    blobs = {
        "none": b"",
        "other-org": kv_live.project_proof(new_id("org"), "prj_1"),
        "other-project": kv_live.project_proof(org_id, "prj_other"),
        "forged": sign_membership(SigningKey.generate(), org_id=org_id, project_id="prj_1"),
    }
    request = claims(org_id, integration_id, project_proof=blobs[proof])
    error = await refused(kv_live, bytes(gateway_key(kv_live).sign(msgspec.json.encode(request))))
    assert error.code == "integration_not_found"
    denied = [e for e in await kv_live.audit_events(integration_id, expect=2) if e.outcome == "denied"]
    assert denied[-1].detail == {"reason": "project_not_in_org", "project_id": "prj_1"}
