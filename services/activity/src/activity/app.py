"""Activity service: the JetStream consumer plus the query responder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo import AsyncMongoClient

from activity.consumer import ActivityConsumer
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository
from activity.settings import ActivitySettings
from shared import subjects
from shared.bus import connect, serve
from shared.messages.activity import ActivityQueryRequest, QueryResult
from shared.messages.base import Ping, Pong
from shared.metrics import serve as serve_metrics


@asynccontextmanager
async def lifespan(settings: ActivitySettings) -> AsyncIterator[ActivityConsumer]:
    serve_metrics(settings.metrics_port, settings.metrics_host)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    repo = ActivityRepository(mongo, settings.activity_db)
    await repo.ensure_indexes(settings.retention_days)
    nc = await connect(settings, "activity")
    consumer = ActivityConsumer(nc, repo, settings)
    await consumer.start()
    queries = ActivityQueries(repo)

    async def query(req: ActivityQueryRequest, _: object) -> QueryResult:
        return await queries.run(req.query)

    async def ping(_: Ping, __: object) -> Pong:
        return Pong(service="activity")

    await serve(nc, subjects.ACTIVITY_QUERY, ActivityQueryRequest, query, queue=subjects.QUEUE_ACTIVITY)
    await serve(nc, subjects.ACTIVITY_PING, Ping, ping, queue=subjects.QUEUE_ACTIVITY)
    try:
        yield consumer
    finally:
        await consumer.stop()
        await nc.drain()
        await mongo.close()
