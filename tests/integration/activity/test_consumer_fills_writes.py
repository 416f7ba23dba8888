"""The activity consumer gathers records for a moment before one write (a real nats-server with the
activity stream and durable consumer as provisioned, a real SecantusDB): records that arrive
together are stored by one write, a write waits no longer than its window or than it takes to hold
enough records (counted in records, not messages), and a consumer stopped while it gathers hands
its messages back at once. Every write of request records bumps their hour's generation once, so
the generation counts the writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient

from activity import rollups
from activity.consumer import ActivityConsumer
from activity.repository import ActivityRepository
from activity.settings import ActivitySettings
from shared import provision, subjects
from shared.messages import activity as a
from tests.integration.activity.records import Raw
from tests.jetstream_server import jetstream_server

# every record of these tests falls in one hour, so that hour's generation counts the writes
HOUR = rollups.hour_of(datetime.now(UTC)) - timedelta(hours=2)


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jetstream_server(tmp_path_factory.mktemp("nats-activity")) as url:
        yield url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    """A client on a fresh activity stream and durable consumer, as `keyrelay provision` makes them."""
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await js.add_stream(provision.activity_stream(provision.ProvisionSettings()))
    await js.add_consumer(subjects.ACTIVITY_STREAM, provision.activity_consumer())
    yield client
    await js.delete_stream(subjects.ACTIVITY_STREAM)
    await client.close()


def event(i: int) -> a.RequestFinished:
    return a.RequestFinished(
        request_id=f"req_fill{i:04d}",
        ts=HOUR + timedelta(seconds=i),
        org_id="org_fill",
        project_id="prj_1",
        api_key_id="key_1",
        integration="alpha",
        model_requested="gpt-4o-mini",
    )


async def publish(nc: NatsClient, *events: a.RequestFinished) -> None:
    for one in events:
        await nc.jetstream().publish(subjects.ACTIVITY_REQUEST_FINISHED, msgspec.json.encode(one))


async def publish_batch(nc: NatsClient, events: list[a.RequestFinished]) -> None:
    body = msgspec.json.encode(a.RequestBatch(events=events))
    await nc.jetstream().publish(subjects.ACTIVITY_REQUEST_BATCH, body)


async def started(nc: NatsClient, repo: ActivityRepository, fill_ms: float, records: int) -> ActivityConsumer:
    consumer = ActivityConsumer(nc, repo, ActivitySettings(write_fill_ms=fill_ms, write_records=records))
    await consumer.start()
    return consumer


@asynccontextmanager
async def consuming(
    nc: NatsClient, repo: ActivityRepository, fill_ms: float, records: int
) -> AsyncIterator[ActivityConsumer]:
    """A consumer with this write window, stopped on the way out whatever happened."""
    consumer = await started(nc, repo, fill_ms, records)
    try:
        yield consumer
    finally:
        await consumer.stop()


async def stored(raw: Raw, count: int, within_s: float) -> float:
    """Seconds until `count` records are stored (fails past `within_s`)."""
    began = time.monotonic()
    while await raw["requests"].count_documents({"org_id": "org_fill"}) < count:
        assert time.monotonic() - began < within_s, "records not stored in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def acked_all(nc: NatsClient, pending: int = 0, within_s: float = 10.0) -> None:
    """Wait until exactly `pending` messages are delivered and not acknowledged."""
    js = nc.jetstream()
    began = time.monotonic()
    while (await js.consumer_info(subjects.ACTIVITY_STREAM, subjects.ACTIVITY_DURABLE)).num_ack_pending != pending:
        assert time.monotonic() - began < within_s, "acknowledgements not as expected in time"
        await asyncio.sleep(0.02)


async def writes(nc: NatsClient, raw: Raw) -> int:
    """How many writes stored the records, once all are acknowledged (after their last write)."""
    await acked_all(nc)
    mark = await raw[rollups.COLLECTION].find_one({"org_id": "org_fill", "hour": HOUR})
    assert mark is not None
    return int(mark["gen"])


async def test_records_arriving_one_by_one_within_the_window_are_stored_by_one_write(
    nc: NatsClient, repo: ActivityRepository, raw: Raw
) -> None:
    async with consuming(nc, repo, fill_ms=3000, records=12) as consumer:
        await publish(nc, event(0))
        await asyncio.sleep(0.1)  # the consumer holds the first one and waits for more
        await publish(nc, *(event(i) for i in range(1, 12)))
        assert await stored(raw, 12, within_s=2.5) < 2.5  # enough records: written before the window ends
        assert await writes(nc, raw) == 1
        assert consumer.stored == 12


async def test_a_write_counts_the_records_of_a_batched_message_not_the_message(
    nc: NatsClient, repo: ActivityRepository, raw: Raw
) -> None:
    async with consuming(nc, repo, fill_ms=5000, records=20):
        await publish_batch(nc, [event(i) for i in range(20)])
        assert await stored(raw, 20, within_s=3.0) < 3.0  # one message, twenty records: nothing to wait for
        assert await writes(nc, raw) == 1


async def test_a_lone_record_waits_for_company_no_longer_than_the_window(
    nc: NatsClient, repo: ActivityRepository, raw: Raw
) -> None:
    async with consuming(nc, repo, fill_ms=400, records=100):
        await publish(nc, event(0))
        waited = await stored(raw, 1, within_s=5.0)
        assert waited > 0.3  # it did wait for more
        await publish(nc, event(1))
        await stored(raw, 2, within_s=5.0)
        assert await writes(nc, raw) == 2


async def test_a_consumer_stopped_while_it_gathers_hands_its_records_to_the_next_at_once(
    nc: NatsClient, repo: ActivityRepository, raw: Raw
) -> None:
    first = await started(nc, repo, fill_ms=20_000, records=100)
    await publish(nc, event(0))
    await acked_all(nc, pending=1)
    await asyncio.sleep(0.3)  # fetched, and waiting for company
    began = time.monotonic()
    await first.stop()
    assert time.monotonic() - began < 1.0
    assert await raw["requests"].count_documents({"org_id": "org_fill"}) == 0  # nothing written, nothing acked
    async with consuming(nc, repo, fill_ms=0, records=100):
        await stored(raw, 1, within_s=10.0)  # well before the consumer's 30 s ack wait


async def test_a_poison_message_gathered_with_good_ones_is_dead_lettered_and_the_rest_are_stored(
    nc: NatsClient, repo: ActivityRepository, raw: Raw
) -> None:
    async with consuming(nc, repo, fill_ms=3000, records=4) as consumer:
        await publish(nc, event(0))
        await nc.jetstream().publish(subjects.ACTIVITY_REQUEST_FINISHED, b'{"not": "an event"}')
        await publish(nc, event(1), event(2))
        await stored(raw, 3, within_s=5.0)
        await acked_all(nc)  # every message acknowledged, the poison one too
        assert await raw["dead_letters"].count_documents({}) == 1
        assert consumer.dead == 1
