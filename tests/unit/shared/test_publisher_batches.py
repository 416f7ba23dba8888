"""The durable publisher sends consecutive events of a batched subject as one JetStream message
(real nats-server): every event once and in order, a lone event as before, and a batch that
failed retried as the very same message, so JetStream's duplicate window still applies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
from nats.aio.client import Client as NatsClient
from nats.js.api import StreamConfig

from shared.publisher import MESSAGE_EVENTS, DurablePublisher, batch_id
from shared.spool import SpoolJournal

ONE = "batchtest.events.one"
MANY = "batchtest.events.many"
OTHER = "batchtest.events.other"


class Event(msgspec.Struct):
    n: int


class Batch(msgspec.Struct):
    events: list[Event]


async def create_stream(nc: NatsClient, name: str) -> None:
    await nc.jetstream().add_stream(StreamConfig(name=name, subjects=["batchtest.events.>"], duplicate_window=300))


async def drained(publisher: DurablePublisher, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while publisher.backlog and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert publisher.backlog == 0, f"{publisher.backlog} events still waiting"


async def stored(nc: NatsClient, stream: str) -> list[tuple[str, str, list[int]]]:
    """(subject, Nats-Msg-Id, the events' numbers) of every stored message, in order."""
    js = nc.jetstream()
    count = (await js.stream_info(stream)).state.messages
    out = []
    for seq in range(1, count + 1):
        msg = await js.get_msg(stream, seq)
        numbers = (
            [e.n for e in msgspec.json.decode(msg.data, type=Batch).events]
            if msg.subject == MANY
            else [msgspec.json.decode(msg.data, type=Event).n]
        )
        out.append((msg.subject or "", (msg.headers or {}).get("Nats-Msg-Id", ""), numbers))
    return out


async def test_events_that_gather_go_out_as_fewer_messages_each_event_once_and_in_order(
    nc: NatsClient, tmp_path: Path
) -> None:
    await create_stream(nc, "BATCHES")
    publisher = DurablePublisher(nc, journal=SpoolJournal(tmp_path), batched={ONE: MANY}, linger_s=0.05)
    publisher.start()
    for n in range(250):
        publisher.publish(ONE, Event(n), msg_id=f"evt_{n}")
    await drained(publisher)
    await publisher.stop()
    messages = await stored(nc, "BATCHES")
    assert [n for _, _, numbers in messages for n in numbers] == list(range(250))
    assert len(messages) <= 250 // MESSAGE_EVENTS + 2, "events were not grouped"
    for subject, msg_id, numbers in messages:
        if subject == MANY:
            assert msg_id == batch_id([f"evt_{n}" for n in numbers])
        else:
            assert (len(numbers), msg_id) == (1, f"evt_{numbers[0]}")
    assert list(tmp_path.glob("*.jsonl")) == [], "every event acknowledged"


async def test_a_lone_event_and_events_of_other_subjects_keep_their_own_subject_and_id(nc: NatsClient) -> None:
    await create_stream(nc, "LONE")
    publisher = DurablePublisher(nc, batched={ONE: MANY})
    publisher.start()
    publisher.publish(ONE, Event(1), msg_id="evt_1")
    await drained(publisher)
    publisher.publish(OTHER, Event(2), msg_id="evt_2")
    publisher.publish(OTHER, Event(3), msg_id="evt_3")
    await drained(publisher)
    await publisher.stop()
    assert await stored(nc, "LONE") == [(ONE, "evt_1", [1]), (OTHER, "evt_2", [2]), (OTHER, "evt_3", [3])]


async def test_a_batch_that_failed_is_retried_as_the_same_message_under_the_same_id(nc: NatsClient) -> None:
    """No stream at first: the first sends fail. The events stay grouped as they were (sealed) even
    though more arrive behind them, so a retry whose first try was in fact stored is dropped by
    JetStream; once the stream exists every event is stored once."""
    publisher = DurablePublisher(nc, ack_timeout_s=0.3, batched={ONE: MANY}, linger_s=0.02)
    publisher.start()
    for n in range(5):
        publisher.publish(ONE, Event(n), msg_id=f"evt_{n}")
    await asyncio.sleep(0.5)  # at least one failed round
    for n in range(5, 8):
        publisher.publish(ONE, Event(n), msg_id=f"evt_{n}")
    await create_stream(nc, "SEALED")
    await drained(publisher)
    await publisher.stop()
    messages = await stored(nc, "SEALED")
    assert messages[0] == (MANY, batch_id([f"evt_{n}" for n in range(5)]), [0, 1, 2, 3, 4])
    assert [n for _, _, numbers in messages for n in numbers] == list(range(8))
