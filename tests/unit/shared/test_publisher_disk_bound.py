"""The durable publisher's memory bound never costs an event: past it, events wait in the journal
on disk and are read back in order as JetStream acknowledges the ones before (real nats-server)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import nats
import nats.aio.msg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import StreamConfig

from shared import publisher as publisher_module
from shared.publisher import DurablePublisher
from shared.spool import SpoolJournal

SUBJECT = "spooltest.events"


class Event(msgspec.Struct):
    n: int


async def wait_until_drained(publisher: DurablePublisher, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while publisher.backlog and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert publisher.backlog == 0, f"{publisher.backlog} events still waiting"


async def stored_ids(nc: NatsClient, stream: str) -> list[str]:
    js = nc.jetstream()
    count = (await js.stream_info(stream)).state.messages
    messages = [await js.get_msg(stream, seq) for seq in range(1, count + 1)]
    return [(m.headers or {}).get("Nats-Msg-Id", "") for m in messages]


async def create_stream(nc: NatsClient, name: str) -> None:
    await nc.jetstream().add_stream(StreamConfig(name=name, subjects=[SUBJECT], duplicate_window=300))


async def test_events_past_the_memory_bound_wait_on_disk_and_all_arrive_in_order(
    nc: NatsClient, tmp_path: Path
) -> None:
    """With no stream to take them, 300 events against a 20-event memory bound: none is dropped,
    at most 20 are held in memory, the rest are on disk; once JetStream takes them, every one is
    stored once and in order, including those published while the backlog was draining."""
    publisher = DurablePublisher(nc, spool_limit=20, ack_timeout_s=0.5, journal=SpoolJournal(tmp_path))
    publisher.start()
    for n in range(300):
        publisher.publish(SUBJECT, Event(n), msg_id=f"evt_{n}")
    await asyncio.sleep(0.3)  # a few failed rounds: nobody acknowledges
    assert publisher.backlog == 300
    assert publisher.in_memory <= 20
    assert publisher.on_disk >= 280
    await create_stream(nc, "SPOOLTEST")
    for n in range(300, 400):  # new events queue behind the ones on disk
        publisher.publish(SUBJECT, Event(n), msg_id=f"evt_{n}")
        assert publisher.in_memory <= 20
    await wait_until_drained(publisher)
    await publisher.stop()
    assert await stored_ids(nc, "SPOOLTEST") == [f"evt_{n}" for n in range(400)]
    assert list(tmp_path.glob("*.jsonl")) == [], "acknowledged segments are deleted"


async def test_a_restart_replays_the_events_a_dead_publisher_left_on_disk(nc: NatsClient, tmp_path: Path) -> None:
    """A process that dies with events past its memory bound loses none: the next one takes them
    over (still within its own memory bound) and sends each once."""
    dead = DurablePublisher(nc, spool_limit=10, journal=SpoolJournal(tmp_path, segment_events=40))
    for n in range(150):  # never started: nothing is sent
        dead.publish(SUBJECT, Event(n), msg_id=f"evt_{n}")
    assert dead.in_memory == 10
    for segment in dead._journal._segments.values() if dead._journal else ():  # the process dies
        segment.handle.close()
    survivor = DurablePublisher(nc, spool_limit=10, ack_timeout_s=0.5, journal=SpoolJournal(tmp_path))
    assert (survivor.backlog, survivor.in_memory) == (150, 10)
    await create_stream(nc, "SPOOLREPLAY")
    survivor.start()
    await wait_until_drained(survivor)
    await survivor.stop()
    assert await stored_ids(nc, "SPOOLREPLAY") == [f"evt_{n}" for n in range(150)]


def in_process_answer() -> bytes:
    """What a clustered JetStream stream answers a message id staged for a proposal that has not
    committed (nats-server's JSStreamDuplicateMessageConflict)."""
    error = {"code": 409, "err_code": 10158, "description": "duplicate message id is in process"}
    return msgspec.json.encode({"error": error})


async def publish_one_until_settled(nc: NatsClient, journal: Path, msg_id: str) -> None:
    """One event through a journaled publisher, until the stream (whatever answers) settled it."""
    publisher = DurablePublisher(nc, ack_timeout_s=0.5, journal=SpoolJournal(journal))
    publisher.start()
    publisher.publish(SUBJECT, Event(1), msg_id=msg_id)
    await wait_until_drained(publisher)
    await publisher.stop()


async def test_an_id_in_process_is_retried_as_is_until_its_first_copy_commits(nc: NatsClient, tmp_path: Path) -> None:
    """While the stream says the id is in process, the event is sent again under the same id (its
    first copy may still commit): once the stream acknowledges it, it is settled, never re-keyed."""
    seen: list[str] = []

    async def stream(msg: nats.aio.msg.Msg) -> None:
        seen.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        answer = in_process_answer() if len(seen) < 3 else b'{"stream":"STAGED","seq":7,"duplicate":true}'
        await msg.respond(answer)

    await nc.subscribe(SUBJECT, cb=stream)
    await publish_one_until_settled(nc, tmp_path, "evt_staged")
    assert seen == ["evt_staged"] * 3


async def test_an_id_whose_proposal_was_lost_is_sent_again_under_a_derived_id(
    nc: NatsClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream that keeps saying "in process" for one id (its proposal was lost, the staged id
    would refuse the event for the whole duplicate window): past the bound, the event goes out
    under a derived id, which the stream takes. Activity stores a request once by its own id, so
    even a first copy landing late makes no second record."""
    monkeypatch.setattr(publisher_module, "REKEY_AFTER_S", 0.3)
    seen: list[str] = []

    async def stream(msg: nats.aio.msg.Msg) -> None:
        msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        seen.append(msg_id)
        await msg.respond(b'{"stream":"LOST","seq":1}' if "~" in msg_id else in_process_answer())

    await nc.subscribe(SUBJECT, cb=stream)
    await publish_one_until_settled(nc, tmp_path, "evt_lost")
    assert set(seen[:-1]) == {"evt_lost"}
    assert seen[-1] == "evt_lost~1"
    assert list(tmp_path.glob("*.jsonl")) == [], "the event is settled in the journal"
