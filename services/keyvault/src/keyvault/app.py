"""Keyvault service: refuses weak key material, then serves its subjects over core NATS.

Every subject is core NATS request-reply behind the `keyvault` queue group; decryption traffic
never touches a JetStream stream. Only audit events go to JetStream (through a durable publisher),
credential-changed events (ids only) are broadcast on core NATS, and each record's version floor
lives in a JetStream KV bucket the operator provisions and only keyvault writes (`keyvault.floors`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription
from pymongo import AsyncMongoClient

from keyvault.audit import Auditor
from keyvault.crypto import Sealer
from keyvault.floors import VersionFloors
from keyvault.metrics import serve_metrics
from keyvault.repository import CredentialRepository, Doc
from keyvault.rotation import rotate
from keyvault.settings import KeyMaterial, KeyvaultSettings, load_key_material
from keyvault.vault import Vault
from shared import subjects
from shared.bus import connect, encode, serve
from shared.messages import keyvault as kv
from shared.messages.base import Ping, Pong
from shared.publisher import DurablePublisher
from shared.runner import run_service


def build_sealer(material: KeyMaterial) -> Sealer:
    return Sealer(material.keks, material.primary, material.retired)


async def _serve_all(nc: NatsClient, vault: Vault, auditor: Auditor) -> list[Subscription]:
    queue = subjects.QUEUE_KEYVAULT

    async def changed(org_id: str, integration_id: str) -> None:
        await nc.publish(
            subjects.EVENT_CREDENTIAL_CHANGED,
            encode(kv.CredentialChanged(org_id=org_id, integration_id=integration_id)),
        )

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
        return await rotate(vault.repo, vault.sealer, vault.floors, batch=req.batch, auditor=auditor)

    async def ping(_: Ping, __: object) -> Pong:
        return Pong(service="keyvault", detail=f"primary_kek={vault.sealer.primary}")

    return [
        await serve(nc, subjects.KEYVAULT_REVEAL, kv.RevealRequest, reveal, queue=queue),
        await serve(nc, subjects.KEYVAULT_PUT, kv.PutCredential, put, queue=queue),
        await serve(nc, subjects.KEYVAULT_DELETE, kv.DeleteCredential, delete, queue=queue),
        await serve(nc, subjects.KEYVAULT_SCOPE, kv.SetScope, scope, queue=queue),
        await serve(nc, subjects.KEYVAULT_DESCRIBE, kv.DescribeCredentials, describe, queue=queue),
        await serve(nc, subjects.KEYVAULT_ROTATE, kv.RotateKeks, rotate_keks, queue=queue),
        await serve(nc, subjects.KEYVAULT_PING, Ping, ping, queue=queue),
    ]


@asynccontextmanager
async def lifespan(settings: KeyvaultSettings) -> AsyncIterator[Vault]:
    """Check every key first (a `SettingsError` before any connection), then connect and serve."""
    material = load_key_material(settings)
    sealer = build_sealer(material)
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    nc: NatsClient | None = None
    publisher: DurablePublisher | None = None
    subscriptions: list[Subscription] = []
    try:
        repo = CredentialRepository(mongo, settings.keyvault_db)
        await repo.ensure_indexes()
        nc = await connect(settings, "keyvault")
        publisher = DurablePublisher(nc)
        publisher.start()
        auditor = Auditor(publisher)
        vault = Vault(
            repo,
            sealer,
            material.private_key,
            floors=VersionFloors(nc.jetstream()),
            gateway_key=material.gateway_key,
            catalog_key=material.catalog_key,
            auditor=auditor,
            max_age_s=settings.keyvault_reveal_max_age_s,
        )
        subscriptions = await _serve_all(nc, vault, auditor)
        serve_metrics(settings.keyvault_metrics_host, settings.metrics_port)
        yield vault
    finally:
        for sub in subscriptions:  # stop taking requests, finish the ones in flight
            with contextlib.suppress(Exception):
                await sub.drain()  # type: ignore[no-untyped-call]
        if publisher is not None:
            await publisher.stop()  # then flush the audit events they produced
        if nc is not None and not nc.is_closed:
            await nc.drain()
        await mongo.close()


async def run(settings: KeyvaultSettings) -> None:
    """Serve until SIGTERM/SIGINT, then drain and flush audit events."""

    @asynccontextmanager
    async def service() -> AsyncIterator[None]:
        async with lifespan(settings):
            yield

    await run_service("keyvault", service)
