"""Thin bus handlers: decode (done by `shared.bus.serve`), call the use case, reply."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from activity.queries import ActivityQueries
from shared import subjects
from shared.bus import serve
from shared.messages.activity import ActivityQueryRequest, QueryResult
from shared.messages.base import Ping, Pong


async def register(nc: NatsClient, queries: ActivityQueries) -> None:
    queue = subjects.QUEUE_ACTIVITY

    async def query(req: ActivityQueryRequest, _: object) -> QueryResult:
        return await queries.run(req.query)

    async def ping(_: Ping, __: object) -> Pong:
        return Pong(service="activity")

    # read-only: a page's list and chart queries are answered side by side
    await serve(nc, subjects.ACTIVITY_QUERY, ActivityQueryRequest, query, queue=queue, concurrent=True)
    await serve(nc, subjects.ACTIVITY_PING, Ping, ping, queue=queue)
