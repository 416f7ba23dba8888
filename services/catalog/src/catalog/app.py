"""Catalog service: a FastStream app (`shared.fastbus`) wired to MongoDB, keyvault's admin client and the
catalog data. Requests to keyvault and published events go through nats-py on the broker's own connection."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nacl.signing import SigningKey
from pymongo import AsyncMongoClient

from catalog.context import Ctx
from catalog.events import CatalogEvents
from catalog.handlers import register
from catalog.providers import load_model_catalog, load_provider_registry
from catalog.repository import CatalogRepository
from catalog.service import Catalog
from catalog.settings import CatalogSettings
from catalog.vault_admin import VaultAdminClient
from shared import fastbus
from shared.bus import BusClient
from shared.metrics import serve as serve_metrics
from shared.mongo import CLIENT_OPTIONS
from shared.netpolicy import AddressPolicy
from shared.publisher import DurablePublisher
from shared.settings import SettingsError


def _signing_key(settings: CatalogSettings) -> SigningKey:
    if not settings.catalog_signing_key:
        raise SettingsError("KEYRELAY_CATALOG_SIGNING_KEY is required (run `keyrelay keys init` or see deploy/)")
    return SigningKey(base64.b64decode(settings.catalog_signing_key.reveal()))


@asynccontextmanager
async def lifespan(settings: CatalogSettings) -> AsyncIterator[Catalog]:
    signing_key = _signing_key(settings)
    serve_metrics(settings.metrics_port, settings.metrics_host)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri, **CLIENT_OPTIONS)
    repo = CatalogRepository(mongo, settings.catalog_db)
    await repo.ensure_indexes()
    broker = fastbus.broker(settings, "catalog")
    nc = await broker.connect()
    publisher = DurablePublisher(nc)
    publisher.start()
    bus = BusClient(nc, default_timeout_s=settings.keyvault_timeout_s)
    ctx = Ctx(
        repo=repo,
        events=CatalogEvents(nc, publisher),
        vault=VaultAdminClient(bus),
        providers=load_provider_registry(),
        models=load_model_catalog(settings.models_file or None),
        addresses=AddressPolicy.from_settings(settings.upstream_allow, allow_http=settings.upstream_allow_http),
        settings=settings,
        signing_key=signing_key,
    )
    catalog = Catalog(ctx)
    register(broker, catalog)
    application = fastbus.app(broker, on_shutdown=[publisher.stop])
    await fastbus.start(application)
    try:
        yield catalog
    finally:
        await application.stop()  # publisher stopped, subscribers stopped, connection drained
        await mongo.close()
