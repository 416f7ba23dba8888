"""Every request the client got an answer for has exactly one activity document: none lost, none
invented, none duplicated, through the faults of issue 7 (real nats-server, real SecantusDB)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import httpx
import msgspec
import nats
import pytest
from pymongo import MongoClient

from shared import subjects
from shared.embedded import wait_for_port
from shared.messages.activity import RequestFinished
from shared.publisher import batch_body
from shared.stack import EmbeddedStack
from tests.conftest import Org, wait_for_record
from tests.faults import TcpProxy

pytestmark = pytest.mark.slow
CONCURRENCY = 16


class Traffic:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.key = org.api_key()
        self.key_id = next(
            k["id"] for k in org.owner.get("/api-keys").json()["data"] if self.key.startswith(k["prefix"])
        )
        self.answered: set[str] = set()
        self.overloaded = 0

    async def run(self, count: int | None, *, pause_s: float = 0.0, stop: asyncio.Event | None = None) -> None:
        """Send `count` requests (or keep sending until `stop` is set) from CONCURRENCY clients."""
        queue = iter(range(count)) if count is not None else _until_set(stop or asyncio.Event())
        async with httpx.AsyncClient(
            base_url=self.org.stack.gateway_url, timeout=60, headers={"authorization": f"Bearer {self.key}"}
        ) as client:

            async def worker() -> None:
                for _ in queue:
                    response = await client.post(
                        "/v1/chat/completions",
                        json={
                            "model": "@openai-main/gpt-4o-mini",
                            "messages": [{"role": "user", "content": "count me"}],
                        },
                    )
                    if response.status_code == 503 and response.json()["error"]["code"] == "overloaded":
                        self.overloaded += 1  # refused before any work: no record, by design
                        assert response.headers["retry-after"]
                        continue
                    self.answered.add(response.headers["x-request-id"])
                    if pause_s:
                        await asyncio.sleep(pause_s)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    def stored(self) -> int:
        with MongoClient(self.org.stack.mongodb_uri) as mongo:
            return mongo["keyrelay_activity"]["requests"].count_documents({"api_key_id": self.key_id})

    def assert_exactly_once(self, timeout_s: float = 90.0) -> None:
        with MongoClient(self.org.stack.mongodb_uri) as mongo:
            coll = mongo["keyrelay_activity"]["requests"]
            deadline = time.monotonic() + timeout_s
            stored: list[str] = []
            while time.monotonic() < deadline:
                stored = [d["_id"] for d in coll.find({"api_key_id": self.key_id}, {"_id": 1})]
                if len(stored) >= len(self.answered):
                    break
                time.sleep(0.5)
        assert len(stored) == len(set(stored)), "duplicated documents"
        assert set(stored) - self.answered == set(), "invented documents"
        assert self.answered - set(stored) == set(), f"{len(self.answered - set(stored))} answered requests lost"
        self.assert_summary_counts_every_record()

    def assert_summary_counts_every_record(self, timeout_s: float = 15.0) -> None:
        """The org's summary (hourly roll-ups) counts each of its records once, as soon as the
        consumer has caught up, whatever it went through."""
        deadline = time.monotonic() + timeout_s
        with MongoClient(self.org.stack.mongodb_uri) as mongo:
            while True:
                records = mongo["keyrelay_activity"]["requests"].count_documents({"org_id": self.org.org_id})
                summary = self.org.owner.get("/activity/summary", params={"group_by": "day"}).json()["data"]
                counted = sum(row["requests"] for row in summary)
                if counted == records or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        assert counted == records, f"the summary counts {counted} requests for {records} records"


def _until_set(stop: asyncio.Event) -> Iterator[int]:
    n = 0
    while not stop.is_set():
        yield n
        n += 1


@pytest.fixture
def traffic(org: Org) -> Iterator[Traffic]:
    yield Traffic(org)
    stack = org.stack
    for name in ("nats", "mongo", "activity", "gateway"):  # whatever a test stopped comes back
        if not stack.children[name].running:
            restart(stack, name)


async def eventually(condition: Callable[[], bool | Awaitable[bool]], timeout_s: float) -> bool:
    """Whether `condition` holds within `timeout_s` (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return True
        await asyncio.sleep(0.1)
    return False


async def until(condition: Callable[[], bool | Awaitable[bool]], failure: str, timeout_s: float = 20.0) -> None:
    if not await eventually(condition, timeout_s):
        raise AssertionError(failure)


async def stream_messages(stack: EmbeddedStack) -> int:
    nc = await nats.connect(stack.nats_url, user="operator", password=stack.password("operator"))
    try:
        return (await nc.jetstream().stream_info(subjects.ACTIVITY_STREAM)).state.messages
    finally:
        await nc.close()


async def all_acknowledged(stack: EmbeddedStack) -> bool:
    nc = await nats.connect(stack.nats_url, user="operator", password=stack.password("operator"))
    try:
        info = await nc.jetstream().consumer_info(subjects.ACTIVITY_STREAM, subjects.ACTIVITY_DURABLE)
    finally:
        await nc.close()
    return not info.num_pending and not info.num_ack_pending


def gateway_retries(stack: EmbeddedStack) -> int:
    return (stack.logs / "gateway.log").read_text(errors="replace").count("publisher.retry")


def restart(
    stack: EmbeddedStack, name: str, extra_env: dict[str, str] | None = None, *, wait_ready: bool = True
) -> None:
    if name == "nats":
        stack.children["nats"].start()
        wait_for_port(stack.nats_port)
    elif name == "mongo":
        stack.children["mongo"].start()
        wait_for_port(stack.mongo_port, timeout_s=30)
    else:
        stack.children[name].stop()
        stack.start_service(name, extra_env)
        if name == "gateway":
            wait_for_port(stack.http_port, timeout_s=30)
    if wait_ready:
        stack.wait_ready(60)


@contextlib.contextmanager
def through_proxy(stack: EmbeddedStack, name: str) -> Iterator[TcpProxy]:
    """Service `name` restarted to reach nats-server through a TcpProxy, and restarted on nats-server
    itself afterwards whatever happened, so a failing test does not leave the shared stack cut off."""
    with TcpProxy(stack.nats_port) as proxy:
        try:
            restart(stack, name, {"KEYRELAY_NATS_URL": proxy.url})
            yield proxy
        finally:
            restart(stack, name, wait_ready=False)
    stack.wait_ready(60)


async def test_activity_killed_under_traffic_then_restarted_loses_nothing(traffic: Traffic) -> None:
    """SIGKILL the consumer mid-traffic; after a restart every answered request is stored once."""
    stack = traffic.org.stack
    run = asyncio.create_task(traffic.run(600))
    await asyncio.sleep(1.0)
    stack.children["activity"].kill()
    await asyncio.sleep(2.0)
    stack.start_service("activity")
    await run
    traffic.assert_exactly_once()


async def test_acks_lost_after_activity_wrote_a_batch_bring_a_redelivery_that_duplicates_nothing(
    traffic: Traffic,
) -> None:
    """Activity's acknowledgements are lost on the wire after it wrote the batch to MongoDB (a proxy
    between it and nats-server swallows everything it sends): JetStream redelivers those events once
    the ack wait expires, and the idempotent write keeps one document each."""
    stack = traffic.org.stack
    stop = asyncio.Event()  # traffic flows until the acks were lost once, so there is always a next batch
    with through_proxy(stack, "activity") as proxy:
        run = asyncio.create_task(traffic.run(None, pause_s=0.01, stop=stop))
        try:
            await until(lambda: traffic.stored() > 0, "activity stored nothing")
            for _ in range(5):
                # From here on nothing activity sends reaches the server, acks included; only a pull
                # request already at the server can still deliver a batch, which activity then writes
                # and cannot acknowledge. If none was pending, reconnect and try again.
                proxy.black_hole(to_server=True)
                written = traffic.stored()
                if await eventually(lambda n=written: traffic.stored() > n, 5.0):
                    break
                proxy.cut()
                await until(lambda n=written: traffic.stored() > n, "activity stored nothing after reconnecting")
            else:
                raise AssertionError("no batch was written while its acks were being lost")
            proxy.cut()  # activity reconnects; the lost acks stay pending until JetStream redelivers
        finally:
            stop.set()
            await run
        await until(lambda: all_acknowledged(stack), "the unacknowledged events were not redelivered", 75.0)
        traffic.assert_exactly_once()


async def test_mongodb_stopped_for_a_while_loses_nothing(traffic: Traffic) -> None:
    """With the database down, events wait in JetStream; they are all stored once it is back."""
    stack = traffic.org.stack
    await traffic.run(100)
    stack.children["mongo"].stop()
    await traffic.run(300)
    await asyncio.sleep(2.0)
    restart(stack, "mongo")
    traffic.assert_exactly_once()


async def test_nats_restarted_under_traffic_loses_nothing(traffic: Traffic) -> None:
    """The gateway spools events while NATS is down and replays them; requests keep being answered
    from warm caches."""
    stack = traffic.org.stack
    await traffic.run(50)
    run = asyncio.create_task(traffic.run(400, pause_s=0.01))
    await asyncio.sleep(1.0)
    stack.children["nats"].stop()
    await asyncio.sleep(2.0)
    restart(stack, "nats")
    await run
    traffic.assert_exactly_once()


async def test_a_poison_event_is_dead_lettered_and_the_rest_keep_flowing(traffic: Traffic) -> None:
    """An undecodable event lands in `dead_letters` with its reason; real events are still stored."""
    stack = traffic.org.stack
    nc = await nats.connect(stack.nats_url, user="operator", password=stack.password("operator"))
    ack = await nc.jetstream().publish(
        subjects.ACTIVITY_REQUEST_FINISHED, b'{"not": "an event"', headers={"Nats-Msg-Id": f"poison-{time.time_ns()}"}
    )
    await nc.close()
    await traffic.run(200)
    traffic.assert_exactly_once()
    with MongoClient(stack.mongodb_uri) as mongo:
        letter = mongo["keyrelay_activity"]["dead_letters"].find_one({"_id": f"seq-{ack.seq}"})
    assert letter is not None
    assert "undecodable" in letter["reason"]


async def test_a_batched_message_stores_each_record_by_its_id_and_dead_letters_only_its_poison_event(
    org: Org,
) -> None:
    """A batch of records (as the gateway groups them) with one undecodable event among them: the
    others are stored, each once even if it also came alone, and only the bad one is dead-lettered."""
    now = datetime.now(UTC)
    good = [
        RequestFinished(
            request_id=f"req_batched_{i}_{time.time_ns()}",
            ts=now,
            org_id=org.org_id,
            project_id=org.project_id,
            api_key_id="key_x",
        )
        for i in range(3)
    ]
    data = [msgspec.json.encode(event) for event in good]
    nc = await nats.connect(org.stack.nats_url, user="operator", password=org.stack.password("operator"))
    js = nc.jetstream()
    await js.publish(subjects.ACTIVITY_REQUEST_FINISHED, data[0], headers={"Nats-Msg-Id": f"alone-{time.time_ns()}"})
    ack = await js.publish(
        subjects.ACTIVITY_REQUEST_BATCH,
        batch_body([data[0], b'{"not": "an event"}', data[1], data[2]]),
        headers={"Nats-Msg-Id": f"batched-{time.time_ns()}"},
    )
    await nc.close()
    for event in good:
        wait_for_record(org.stack, event.request_id)
    # the whole consumer settled: 45 s covers the 30 s ack wait of a message an earlier test's
    # activity restart left delivered and unacknowledged on this shared stack
    await until(lambda: all_acknowledged(org.stack), "the batch was not acknowledged", timeout_s=45)
    with MongoClient(org.stack.mongodb_uri) as mongo:
        db = mongo["keyrelay_activity"]
        assert db["requests"].count_documents({"_id": {"$in": [e.request_id for e in good]}}) == len(good)
        letter = db["dead_letters"].find_one({"_id": f"seq-{ack.seq}.1"})
        assert db["dead_letters"].find_one({"_id": f"seq-{ack.seq}"}) is None, "the whole batch was dead-lettered"
    assert letter is not None
    assert "undecodable" in letter["reason"]
    assert base64.b64decode(letter["data_b64"]) == b'{"not": "an event"}'


async def test_lost_publish_acks_make_the_gateway_retry_without_duplicates(traffic: Traffic) -> None:
    """The gateway's publishes reach JetStream but their acks are lost on the wire (a proxy between it
    and nats-server swallows everything the server sends): it republishes under the same Nats-Msg-Id
    after reconnecting, and JetStream's duplicate window keeps one message, so one document each."""
    stack = traffic.org.stack
    with through_proxy(stack, "gateway") as proxy:
        await traffic.run(40)  # warm caches: requests are answered without a NATS round trip
        retries = gateway_retries(stack)
        stored = await stream_messages(stack)
        proxy.black_hole(to_client=True)
        run = asyncio.create_task(traffic.run(200, pause_s=0.02))
        await until(lambda: gateway_retries(stack) > retries, "the gateway never missed an ack")
        assert await stream_messages(stack) > stored, "no publish reached JetStream while acks were lost"
        proxy.cut()  # the gateway reconnects and republishes what was never acknowledged
        await run
        traffic.assert_exactly_once()


async def test_events_past_the_spools_memory_bound_wait_on_disk_and_a_full_backlog_refuses_requests(
    traffic: Traffic,
) -> None:
    """NATS down: the gateway keeps answering; events past its 20-event memory bound wait on disk,
    and past 60 unacknowledged events new requests get 503 `overloaded` at once. Once NATS is back,
    every answered request has its one document and requests are admitted again."""
    stack = traffic.org.stack
    restart(stack, "gateway", {"KEYRELAY_SPOOL_MEMORY_EVENTS": "20", "KEYRELAY_MAX_PUBLISH_BACKLOG": "60"})
    await traffic.run(40)  # warm caches: requests are answered without NATS
    answered = len(traffic.answered)
    stack.children["nats"].stop()
    await traffic.run(150)
    assert len(traffic.answered) - answered > 20, "too few answered to go past the memory bound"
    assert traffic.overloaded > 0, "the backlog bound refused nothing"
    restart(stack, "nats")

    async def admitted_again() -> bool:
        refused = traffic.overloaded
        await traffic.run(CONCURRENCY)
        return traffic.overloaded == refused

    await until(admitted_again, "requests still refused after NATS came back", 45.0)
    traffic.assert_exactly_once()
    restart(stack, "gateway")


async def test_a_gateway_killed_while_nats_is_down_replays_its_spool_on_restart(traffic: Traffic) -> None:
    """Events answered while NATS was down survive the gateway's SIGKILL in its on-disk spool."""
    stack = traffic.org.stack
    await traffic.run(40)  # warm caches: requests are answered without NATS
    stack.children["nats"].stop()
    await traffic.run(120)
    stack.children["gateway"].kill()
    restart(stack, "nats", wait_ready=False)
    restart(stack, "gateway")
    traffic.assert_exactly_once()
