"""Activity service: the JetStream consumer plus the query responder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo import AsyncMongoClient

from activity import handlers
from activity.consumer import ActivityConsumer
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository
from activity.settings import ActivitySettings
from shared.bus import connect
from shared.metrics import serve as serve_metrics
from shared.mongo import CLIENT_OPTIONS


@asynccontextmanager
async def lifespan(settings: ActivitySettings) -> AsyncIterator[ActivityConsumer]:
    serve_metrics(settings.metrics_port, settings.metrics_host)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri, **CLIENT_OPTIONS)
    repo = ActivityRepository(mongo, settings.activity_db)
    await repo.ensure_indexes(settings.retention_days)
    nc = await connect(settings, "activity")
    consumer = ActivityConsumer(nc, repo, settings)
    await consumer.start()
    await handlers.register(nc, ActivityQueries(repo))
    try:
        yield consumer
    finally:
        await consumer.stop()
        await nc.drain()
        await mongo.close()
