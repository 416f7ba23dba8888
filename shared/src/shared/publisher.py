"""Durable event publishing to JetStream: `Nats-Msg-Id` = event id, retried until acknowledged.

A publish that times out may still have been stored, so every retry reuses the same message id and
JetStream's duplicate window turns it into one stored message. While NATS is unreachable (or slow),
events wait in a spool that a background task drains in order; no accepted event is ever dropped.
With a `journal`, every spooled event is on disk until acknowledged and `spool_limit` bounds only
memory: events past it stay on disk alone and are read back, in order, as acknowledgements free
room; a restarted process replays what a dead one left unacknowledged, and `provisional()` journals
an outcome to report only if this process dies first. Without a journal (low-volume audit events)
the spool keeps everything in memory and only warns past `spool_limit`. `backlog` is what callers
use for admission control: refuse new work while it is too large, rather than queueing forever.

A clustered stream stages a message id before its proposal commits, and answers a retry of that id
with "duplicate message id is in process" (10158) until then. If the proposal is lost (a busy leader
drops it), the staged id would refuse every retry for the whole duplicate window; past
`REKEY_AFTER_S` of that answer the event is sent under a derived id instead. Should the first copy
land after all, activity stores each request once by its id, so the record is still exactly one.

Events of a `batched` subject travel together: consecutive ones go out as one JetStream message
on the batch subject (`{"events": [...]}`, each event's own bytes, up to `MESSAGE_EVENTS` events
or `MESSAGE_BYTES`), so NATS stores, delivers and acknowledges one message for many events. Its
`Nats-Msg-Id` is derived from its events' ids, and a message that failed is retried with exactly
the same events, so JetStream's duplicate window still drops a retry whose first try was stored;
a replay after a crash may group events differently, which the consumer absorbs by storing each
event under its own id. A lone event goes out as before, on its own subject under its own id.
`linger_s` lets a few more events gather before a send when fewer than a full batch are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import APIError

from shared import tracing
from shared.bus import encode
from shared.logging import get_logger
from shared.spool import SpooledEvent, SpoolJournal, SpoolRef
from shared.tasks import cancel_and_wait

log = get_logger("keyrelay.publisher")
BATCH = 128
REFILL = 1024  # events read back from the journal at a time
MAX_ACK_TIMEOUT_S = 30.0
MESSAGE_EVENTS = 100  # events one batched message carries at most
MESSAGE_BYTES = 256 * 1024  # and bytes (an event larger than this goes alone)
IN_PROCESS = 10158  # JetStream: "duplicate message id is in process" (staged, not committed yet)
REKEY_AFTER_S = 10.0  # a proposal commits in milliseconds: this long in process means it was lost


class InProcessError(Exception):
    """JetStream holds this message id for a proposal that has not committed (yet)."""


@dataclass(slots=True)
class _Envelope:
    """What JetStream gets: subject, bytes, `Nats-Msg-Id`, headers."""

    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str]


@dataclass(slots=True)
class _Pending(_Envelope):
    """One event, from `publish()` until JetStream acknowledged it."""

    ref: SpoolRef | None = None
    in_process_since: float | None = None  # when JetStream first said its id was in process
    rekeyed: int = 0
    sealed: str = ""  # the id of the batched message it failed in: retried in exactly that message


@dataclass(slots=True)
class _Message(_Envelope):
    """One JetStream message: a single event, or several of a batched subject."""

    items: list[_Pending] = field(default_factory=list)


def batch_id(msg_ids: list[str]) -> str:
    """A batched message's `Nats-Msg-Id`: the same events give the same id."""
    return "batch." + hashlib.blake2b("\n".join(msg_ids).encode(), digest_size=16).hexdigest()


def batch_body(events: list[bytes]) -> bytes:
    """`{"events": [...]}` from the events' own JSON bytes, none decoded or encoded again."""
    return b'{"events":[' + b",".join(events) + b"]}"


class DurablePublisher:
    def __init__(
        self,
        nc: NatsClient,
        *,
        spool_limit: int = 10_000,
        ack_timeout_s: float = 2.0,
        journal: SpoolJournal | None = None,
        batched: Mapping[str, str] | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self._js: JetStreamContext = nc.jetstream(timeout=ack_timeout_s)
        self._batched = dict(batched or {})  # event subject -> the subject its batched messages go to
        self._linger_s = linger_s
        # Under overload (a busy event loop, a slow disk) acks arrive late: each failed batch halves
        # the batch and doubles the ack timeout (retries are safe: same Nats-Msg-Id), so the spool
        # keeps draining instead of timing out forever; successes bring both back.
        self._base_ack_timeout = self._ack_timeout = ack_timeout_s
        self._batch = BATCH
        self._spool: deque[_Pending] = deque()  # in memory, oldest first
        self._spool_limit = spool_limit
        self._sending = 0  # taken from the spool by the batch being sent
        self._on_disk = 0  # journaled events behind the spool, not read back yet
        self._disk_cursor: SpoolRef | None = None  # where the first of them is in the journal
        self._over_limit = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self._journal = journal
        self._provisional: dict[str, SpoolRef] = {}  # msg_id awaited -> its provisional stand-in
        if journal is not None:
            for event, ref in journal.recover():
                self._enqueue(_Pending(event.subject, event.data, event.msg_id, dict(event.headers), ref))

    @property
    def backlog(self) -> int:
        """Events accepted and not yet acknowledged by JetStream (in memory and on disk)."""
        return len(self._spool) + self._sending + self._on_disk

    @property
    def on_disk(self) -> int:
        """Events waiting on disk only, past the in-memory bound."""
        return self._on_disk

    @property
    def in_memory(self) -> int:
        return len(self._spool) + self._sending

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain_forever(), name="publisher-drain")

    async def stop(self, flush_timeout_s: float = 5.0) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self._flush(), timeout=flush_timeout_s)
        await cancel_and_wait(self._task)
        self._task = None
        if self._journal is not None:
            self._journal.close(all_acked=not self.backlog and not self._provisional)

    def publish(self, subject: str, event: msgspec.Struct, msg_id: str, headers: dict[str, str] | None = None) -> None:
        """Queue an event; it is sent in the background, in order, until JetStream acknowledges it."""
        trace = tracing.headers()  # a fresh dict
        if headers:
            trace.update(headers)
        self._enqueue(_Pending(subject, encode(event), msg_id, trace))
        stand_in = self._provisional.pop(msg_id, None)
        if stand_in is not None and self._journal is not None:
            self._journal.ack([stand_in])  # the real outcome is journaled: the stand-in is void

    def provisional(self, subject: str, event: msgspec.Struct, msg_id: str, *, unless: str) -> None:
        """Journal (disk only, nothing is sent) an event that a restart replays only if this process
        died before publishing the event `unless` (e.g. "interrupted" until a stream's record)."""
        if self._journal is None:
            return
        ref = self._journal.append(SpooledEvent(subject, encode(event), msg_id, tracing.headers(), unless=unless))
        previous = self._provisional.pop(unless, None)
        self._provisional[unless] = ref
        if previous is not None:
            self._journal.ack([previous])

    def _enqueue(self, item: _Pending) -> None:
        full = self._on_disk > 0 or self.in_memory >= self._spool_limit
        if self._journal is not None:
            if item.ref is None:
                item.ref = self._journal.append(SpooledEvent(item.subject, item.data, item.msg_id, item.headers))
            if full:  # it waits on disk, behind the ones already there: order is kept
                if self._on_disk == 0:
                    self._disk_cursor = item.ref
                    log.warning("publisher.spooling_to_disk", in_memory=self.in_memory)
                self._on_disk += 1
                self._wake.set()
                return
        elif full and not self._over_limit:
            self._over_limit = True
            log.warning("publisher.spool_over_limit", in_memory=self.in_memory, limit=self._spool_limit)
        self._spool.append(item)
        self._wake.set()

    def _refill(self) -> None:
        """Read events waiting on disk back into memory, in order, as far as the bound allows."""
        room = min(self._spool_limit - self.in_memory, self._on_disk, REFILL)
        if room <= 0 or self._journal is None or self._disk_cursor is None:
            return
        events, self._disk_cursor = self._journal.read(self._disk_cursor, room)
        for event, ref in events:
            self._spool.append(_Pending(event.subject, event.data, event.msg_id, dict(event.headers), ref))
        self._on_disk -= len(events)
        if self._on_disk <= 0 or not events:
            if self._on_disk > 0:  # cannot happen unless the journal lost lines: never block on it
                log.error("publisher.journal_short", missing=self._on_disk)
            self._on_disk, self._disk_cursor = 0, None

    def _settled(self, items: list[_Pending]) -> None:
        if self._journal is not None:
            self._journal.ack(item.ref for item in items if item.ref is not None)

    async def _flush(self) -> None:
        self._refill()
        while self._spool:
            await self._send_batch()
            self._refill()

    def _take_message(self) -> _Message:
        """The next message from the front of the spool: a sealed group as it was, else as many
        consecutive events of one batched subject as fit, else one event."""
        first = self._spool.popleft()
        items = [first]
        target = self._batched.get(first.subject)
        if target is not None:
            size = len(first.data)
            while self._spool and len(items) < MESSAGE_EVENTS:
                nxt = self._spool[0]
                if first.sealed:
                    if nxt.sealed != first.sealed:
                        break
                elif nxt.sealed or nxt.subject != first.subject or size + len(nxt.data) > MESSAGE_BYTES:
                    break
                items.append(self._spool.popleft())
                size += len(nxt.data)
        if len(items) == 1:
            return _Message(first.subject, first.data, first.msg_id, first.headers, items)
        assert target is not None  # noqa: S101 - only batched subjects group
        msg_id = first.sealed or batch_id([item.msg_id for item in items])
        return _Message(target, batch_body([item.data for item in items]), msg_id, first.headers, items)

    async def _send_one(self, message: _Message) -> None:
        try:
            ack = await self._js.publish(
                message.subject,
                message.data,
                timeout=self._ack_timeout,
                headers={"Nats-Msg-Id": message.msg_id, **message.headers},
            )
        except APIError as exc:
            if exc.err_code != IN_PROCESS:
                raise
            self._in_process(message)
            raise InProcessError(message.msg_id) from exc
        if ack.duplicate and not ack.seq:  # an older server's way of saying "in process"
            self._in_process(message)
            raise InProcessError(message.msg_id)

    @staticmethod
    def _in_process(message: _Message) -> None:
        """Retry under the same id while its first copy may still commit; past `REKEY_AFTER_S` that
        copy is lost and the staged id would refuse the event until the duplicate window ends. A
        batched message is tracked on its first event and re-keyed as a whole (its events stay
        sealed together under the new id)."""
        head = message.items[0]
        now = time.monotonic()
        if head.in_process_since is None:
            head.in_process_since = now
        elif now - head.in_process_since > REKEY_AFTER_S:
            head.rekeyed += 1
            message.msg_id = f"{message.msg_id.split('~', 1)[0]}~{head.rekeyed}"
            head.in_process_since = None
            if len(message.items) == 1:
                head.msg_id = message.msg_id
            else:
                for item in message.items:
                    item.sealed = message.msg_id
            log.warning("publisher.rekeyed", rekeyed=head.rekeyed)

    async def _send_batch(self) -> None:
        """Publish up to `BATCH` events concurrently (pipelined acks); failures go back to the front."""
        messages: list[_Message] = []
        taken = 0
        while self._spool and taken < self._batch:
            message = self._take_message()
            messages.append(message)
            taken += len(message.items)
        self._sending += taken
        try:
            results = await asyncio.gather(*(self._send_one(m) for m in messages), return_exceptions=True)
        except BaseException:
            for message in reversed(messages):  # cancelled: nothing is lost, all are retried
                self._put_back(message)
            raise
        finally:
            self._sending -= taken
        failed = [m for m, result in zip(messages, results, strict=True) if isinstance(result, BaseException)]
        done = [m for m, result in zip(messages, results, strict=True) if not isinstance(result, BaseException)]
        self._settled([item for m in done for item in m.items])
        self.published += sum(len(m.items) for m in done)
        for message in reversed(failed):
            self._put_back(message)
        if failed:
            error = next(r for r in results if isinstance(r, BaseException))
            raise error if isinstance(error, Exception) else RuntimeError("publish cancelled")

    def _put_back(self, message: _Message) -> None:
        """Back to the front of the spool; a batched message's events are sealed together, so the
        retry is the same message under the same id (JetStream drops it if the first try was stored)."""
        if len(message.items) > 1:
            for item in message.items:
                item.sealed = message.msg_id
        self._spool.extendleft(reversed(message.items))

    async def _drain_forever(self) -> None:
        backoff = 0.05
        while True:
            self._refill()
            if not self._spool:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._linger_s and len(self._spool) < self._batch:
                await asyncio.sleep(self._linger_s)  # let a few more events join this send
                self._refill()
            try:
                await self._send_batch()
                backoff = 0.05
                self._batch = min(BATCH, self._batch * 2)
                self._ack_timeout = max(self._base_ack_timeout, self._ack_timeout / 2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._batch = max(8, self._batch // 2)
                self._ack_timeout = min(MAX_ACK_TIMEOUT_S, self._ack_timeout * 2)
                log.warning(
                    "publisher.retry",
                    error=type(exc).__name__,
                    spool=self.backlog,
                    batch=self._batch,
                    ack_timeout_s=self._ack_timeout,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
