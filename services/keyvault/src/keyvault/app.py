"""Keyvault service: refuses weak key material, then serves its subjects over core NATS."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from nacl.public import PrivateKey
from nacl.signing import VerifyKey
from pymongo import AsyncMongoClient

from keyvault.crypto import Sealer
from keyvault.repository import CredentialRepository
from keyvault.rotation import rotate
from keyvault.settings import KeyvaultSettings, decode_key, load_keks
from keyvault.vault import Vault
from shared import subjects
from shared.bus import connect, encode, serve
from shared.messages import keyvault as kv
from shared.messages.activity import AuditEvent
from shared.messages.base import Ping, Pong
from shared.publisher import DurablePublisher
from shared.settings import SettingsError
from shared.tokens import new_id


def build_sealer(settings: KeyvaultSettings) -> Sealer:
    return Sealer(load_keks(settings), settings.keyvault_primary_kek, set(settings.keyvault_retired_keks))


def _require(name: str, value: str) -> str:
    if not value:
        raise SettingsError(f"{name} is required")
    return value


@asynccontextmanager
async def lifespan(settings: KeyvaultSettings) -> AsyncIterator[Vault]:
    sealer = build_sealer(settings)
    private = PrivateKey(decode_key("KEYRELAY_KEYVAULT_PRIVATE_KEY", _require("KEYRELAY_KEYVAULT_PRIVATE_KEY", settings.keyvault_private_key)))
    gateway_key = VerifyKey(decode_key("KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY", _require("KEYRELAY_KEYVAULT_GATEWAY_VERIFY_KEY", settings.keyvault_gateway_verify_key)))
    catalog_key = VerifyKey(decode_key("KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY", _require("KEYRELAY_KEYVAULT_CATALOG_VERIFY_KEY", settings.keyvault_catalog_verify_key)))
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    repo = CredentialRepository(mongo, settings.keyvault_db)  # type: ignore[arg-type]
    await repo.ensure_indexes()
    nc = await connect(settings, "keyvault")
    publisher = DurablePublisher(nc)
    publisher.start()

    def audit(org_id: str, actor: str, action: str, integration_id: str, outcome: str, detail: dict[str, str]) -> None:
        event = AuditEvent(event_id=new_id("aud"), ts=datetime.now(UTC), org_id=org_id, actor_id=actor,
                           action=action, target_type="credential", target_id=integration_id,
                           outcome=outcome, service="keyvault", detail=detail)  # type: ignore[arg-type]
        publisher.publish(subjects.ACTIVITY_AUDIT_RECORDED, event, event.event_id)

    vault = Vault(repo, sealer, private, gateway_key, catalog_key, audit, settings.keyvault_reveal_max_age_s)
    queue = subjects.QUEUE_KEYVAULT

    async def changed(org_id: str, integration_id: str) -> None:
        await nc.publish(subjects.EVENT_CREDENTIAL_CHANGED, encode(kv.CredentialChanged(org_id=org_id, integration_id=integration_id)))

    async def reveal(req: kv.RevealRequest, _: object) -> kv.RevealGranted:
        return await vault.reveal(req)

    async def put(req: kv.PutCredential, _: object) -> kv.Stored:
        view = await vault.put(req)
        await changed(req.org_id, req.integration_id)
        return kv.Stored(view=view)

    async def delete(req: kv.DeleteCredential, _: object) -> kv.Done:
        await vault.delete(req)
        await changed(req.org_id, req.integration_id)
        return kv.Done()

    async def scope(req: kv.SetScope, _: object) -> kv.Done:
        await vault.set_scope(req)
        await changed(req.org_id, req.integration_id)
        return kv.Done()

    async def describe(req: kv.DescribeCredentials, _: object) -> kv.Described:
        return await vault.describe(req)

    async def rotate_keks(req: kv.RotateKeks, _: object) -> kv.Rotated:
        return await rotate(repo, sealer, batch=req.batch)

    async def ping(_: Ping, __: object) -> Pong:
        return Pong(service="keyvault", detail=f"primary_kek={sealer.primary}")

    await serve(nc, subjects.KEYVAULT_REVEAL, kv.RevealRequest, reveal, queue=queue)
    await serve(nc, subjects.KEYVAULT_PUT, kv.PutCredential, put, queue=queue)
    await serve(nc, subjects.KEYVAULT_DELETE, kv.DeleteCredential, delete, queue=queue)
    await serve(nc, subjects.KEYVAULT_SCOPE, kv.SetScope, scope, queue=queue)
    await serve(nc, subjects.KEYVAULT_DESCRIBE, kv.DescribeCredentials, describe, queue=queue)
    await serve(nc, subjects.KEYVAULT_ROTATE, kv.RotateKeks, rotate_keks, queue=queue)
    await serve(nc, subjects.KEYVAULT_PING, Ping, ping, queue=queue)
    try:
        yield vault
    finally:
        await publisher.stop()
        await nc.drain()
        await mongo.close()


__all__ = ["base64", "build_sealer", "lifespan"]
