"""Thin bus handlers: FastStream subscribers (decoding, validation and `Failed` replies are
`shared.fastbus`'s), each calling one use case."""

from __future__ import annotations

from faststream.nats import NatsBroker

from activity.queries import ActivityQueries
from shared import subjects
from shared.fastbus import CONCURRENT_WORKERS
from shared.messages.activity import ActivityQueryRequest, QueryResult
from shared.messages.base import Ping, Pong


def register(broker: NatsBroker, queries: ActivityQueries) -> None:
    queue = subjects.QUEUE_ACTIVITY

    # read-only: a page's list and chart queries are answered side by side
    @broker.subscriber(subjects.ACTIVITY_QUERY, queue=queue, max_workers=CONCURRENT_WORKERS)
    async def query(req: ActivityQueryRequest) -> QueryResult:
        return await queries.run(req.query)

    @broker.subscriber(subjects.ACTIVITY_PING, queue=queue)
    async def ping(_: Ping) -> Pong:
        return Pong(service="activity")
