"""A canary key stored as an API key, a header value and a service-account field never shows up anywhere
outside the encrypted blob: not on the bus, not in keyvault's DEBUG log, not in MongoDB, not in JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path

import bson
import nats
import pytest
from nats.aio.msg import Msg

from shared.errors import KeyrelayError
from shared.tokens import new_id
from tests.integration.keyvault.conftest import KeyvaultProcess, Kv, KvServers
from tests.integration.keyvault.leaks import forms, leaks
from tests.unit.keyvault.test_payloads import SERVICE_ACCOUNT


def test_the_leak_detector_finds_every_form_it_claims_to() -> None:
    """Raw, a 12-character slice, hex and base64 at any alignment are all caught."""
    import base64  # noqa: PLC0415

    canary = "sk-canary-" + secrets.token_hex(16)
    for haystack in (
        canary,
        "xx" + canary[5:17] + "yy",
        canary.encode().hex(),
        canary.encode().hex().upper(),
        base64.b64encode(b"a" + canary.encode()).decode(),
        base64.b64encode(canary.encode()).decode(),
    ):
        assert leaks(canary, haystack.encode()), haystack
    assert not leaks(canary, b"sk-******" + canary[-3:].encode())
    assert len(forms(canary)) > 50


async def mongo_dump(kv: Kv) -> bytes:
    dump = bytearray()
    for db_name in await kv.mongo.list_database_names():
        for coll_name in await kv.mongo[db_name].list_collection_names():
            async for doc in kv.mongo[db_name][coll_name].find({}):
                dump += bson.encode(doc) + repr(doc).encode()
    return bytes(dump)


def jetstream_dump(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file())


async def test_a_canary_key_never_leaves_the_encrypted_blob(
    kv_live: Kv, kv_keyvault: KeyvaultProcess, kv_servers: KvServers
) -> None:
    """Bus traffic (a client subscribed to `>`), the DEBUG log, every MongoDB collection and the JetStream store."""
    canary = "sk-canary-" + secrets.token_hex(16)
    monitor = await nats.connect(kv_servers.nats_url)
    seen: list[bytes] = []

    async def record(msg: Msg) -> None:
        seen.append(msg.subject.encode() + b" " + repr(msg.headers).encode() + b" " + msg.data)

    await monitor.subscribe(">", cb=record)
    await monitor.flush()
    try:
        org_id, api_int = await kv_live.create({"api_key": canary, "headers": {"x-canary-auth": canary}})
        sa = {**SERVICE_ACCOUNT, "private_key_id": canary}  # the private key itself must be a real PEM key
        sa_org, sa_int = await kv_live.create({"service_account_json": sa}, provider="vertex")
        # refused writes carrying the canary: a non-owner, a malformed key file, an API key with a space
        with pytest.raises(KeyrelayError):
            await kv_live.put(org_id, api_int, {"api_key": canary}, operation="update", role="developer")
        with pytest.raises(KeyrelayError):
            await kv_live.create({"service_account_json": {"type": canary}}, provider="vertex")
        with pytest.raises(KeyrelayError):
            await kv_live.create({"api_key": canary + " x", "headers": {"x-h": canary + "\n"}})
        with pytest.raises(KeyrelayError):
            await kv_live.put(new_id("org"), new_id("int"), {"api_key": canary, "unexpected": canary})

        views = await kv_live.admin.views(org_id=org_id, integration_ids=[api_int])
        described = repr(views) + repr(await kv_live.admin.describe(org_id=sa_org, integration_ids=[sa_int]))
        revealed = await kv_live.reveal(org_id, api_int)
        assert revealed.credential.api_key is not None
        assert revealed.credential.api_key.reveal() == canary  # the value is really there, sealed
        assert canary not in repr(revealed)
        await kv_live.reveal(sa_org, sa_int)
        with contextlib.suppress(KeyrelayError):
            await kv_live.reveal(org_id, api_int, project_id="prj_other")
        await kv_live.audit_events(api_int, expect=3)
        await asyncio.sleep(0.5)
    finally:
        await monitor.drain()

    assert any(b"keyvault.v1.credential.reveal" in m for m in seen)  # the monitor really saw the traffic
    assert leaks(canary, described.encode()) == []
    assert leaks(canary, b"\n".join(seen)) == []
    log = kv_keyvault.log_path.read_bytes()
    assert b'"level": "debug"' in log or b'"level":"debug"' in log
    assert leaks(canary, log) == []
    assert leaks(canary, await mongo_dump(kv_live)) == []
    assert leaks(canary, jetstream_dump(kv_servers.nats_store)) == []
