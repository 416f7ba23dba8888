"""Activity service: a FastStream app (`shared.fastbus`) answering activity queries, with the durable
JetStream consumer started and stopped by the app's hooks.

The consumer stays a nats-py pull loop (`activity.consumer`) on the broker's connection rather than a
FastStream pull subscriber: FastStream's batch loop waits until a batch is full or its timeout passed
(a lone event waits the whole timeout), ends on fetch errors other than timeouts and a closed
connection (a NATS restart's reconnecting errors stop consumption), and creates the durable consumer
when it is missing (activity's NATS user may not; it refuses to start naming `keyrelay provision`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo import AsyncMongoClient

from activity import handlers
from activity.consumer import ActivityConsumer
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository
from activity.settings import ActivitySettings
from shared import fastbus
from shared.metrics import serve as serve_metrics
from shared.mongo import ACTIVITY_CLIENT_OPTIONS


@asynccontextmanager
async def lifespan(settings: ActivitySettings) -> AsyncIterator[ActivityConsumer]:
    serve_metrics(settings.metrics_port, settings.metrics_host)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri, **ACTIVITY_CLIENT_OPTIONS)
    repo = ActivityRepository(mongo, settings.activity_db)
    await repo.ensure_indexes(settings.retention_days)
    broker = fastbus.broker(settings, "activity")
    consumer = ActivityConsumer(await broker.connect(), repo, settings)
    handlers.register(broker, ActivityQueries(repo))
    application = fastbus.app(broker, on_startup=[consumer.start], on_shutdown=[consumer.stop])
    try:
        await fastbus.start(application)
    except BaseException:
        await broker.stop()
        await mongo.close()
        raise
    try:
        yield consumer
    finally:
        await application.stop()  # consumer stopped, subscribers stopped, connection drained
        await mongo.close()
