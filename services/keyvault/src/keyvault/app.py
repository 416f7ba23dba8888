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
from keyvault.handlers import register
from keyvault.metrics import serve_metrics
from keyvault.repository import CredentialRepository, Doc
from keyvault.settings import KeyMaterial, KeyvaultSettings, load_key_material
from keyvault.vault import Vault
from shared.bus import connect
from shared.mongo import CLIENT_OPTIONS
from shared.publisher import DurablePublisher


def build_sealer(material: KeyMaterial) -> Sealer:
    return Sealer(material.keks, material.primary, material.retired)


@asynccontextmanager
async def lifespan(settings: KeyvaultSettings) -> AsyncIterator[Vault]:
    """Check every key first (a `SettingsError` before any connection), then connect and serve."""
    material = load_key_material(settings)
    sealer = build_sealer(material)
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongodb_uri, **CLIENT_OPTIONS)
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
        subscriptions = await register(nc, vault, auditor)
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
