"""The durable JetStream consumer: every event stored once, nothing dropped, nothing stalls.

* The stream and the durable consumer are provisioned by the operator (`shared.provision`): this
  service only binds to them, and its NATS user may do no more than read its consumer's info,
  fetch and acknowledge. If they are missing it refuses to start and says how to make them.
* A message is acknowledged only after MongoDB acknowledged the write; a duplicate key means it
  was already stored, which counts as stored.
* While MongoDB is unreachable, or a write loses a race with another (`WriteConflict`), messages are
  simply retried (negative ack with a delay).
* A message that cannot be decoded, or whose write keeps failing for `max_deliveries` tries for
  another reason, goes to the `dead_letters` collection with its
  reason and is then acknowledged: it never blocks the rest.
* A write waits briefly for company: when a fetch brings fewer than `write_records` records, the
  consumer fetches again for at most `write_fill_ms` (or until it holds that many records or
  `batch_size` messages) and then writes them all at once; the database's cost is mostly per write
  command, not per record. Nothing is acknowledged before that write, and messages gathered when the
  consumer is stopped are handed back at once (negative ack) for whoever consumes next.
* A batched message (`RequestBatch`, several records the gateway sent together) is stored like its
  events sent one by one: each under its own request id, and one event that cannot be decoded or
  written is dead-lettered alone (`seq-{seq}.{index}`) while the others are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg as NatsMsg
from nats.js.errors import NotFoundError

from activity import metrics
from activity.repository import ActivityRepository, RecordKind, transient
from activity.settings import ActivitySettings
from shared import subjects
from shared.logging import get_logger
from shared.messages.activity import AuditEvent, RequestFinished
from shared.tasks import cancel_and_wait

log = get_logger("keyrelay.activity.consumer")
_finished = msgspec.json.Decoder(RequestFinished)
_audit = msgspec.json.Decoder(AuditEvent)
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, ValueError)
_MIN_FETCH_S = 0.002  # a fill fetch shorter than this is not worth its round trip


class _RawBatch(msgspec.Struct):
    """A `RequestBatch` with its events left undecoded, so each is decoded (and refused) alone."""

    events: list[msgspec.Raw] = []


_batch = msgspec.json.Decoder(_RawBatch)


def batched_events(data: bytes) -> list[bytes]:
    """The events of a batched message, each as its own bytes. Raises if the envelope is unreadable."""
    return [bytes(raw) for raw in _batch.decode(data).events]


def _request_document(data: bytes) -> dict[str, Any]:
    event = _finished.decode(data)
    doc: dict[str, Any] = msgspec.to_builtins(event, builtin_types=(type(event.ts),))
    doc["_id"] = doc.pop("request_id")
    doc.setdefault("usage", {})
    return doc


def records_in(msg: NatsMsg) -> int:
    """How many records a message carries (an unreadable batch counts as one: it is refused later)."""
    if msg.subject != subjects.ACTIVITY_REQUEST_BATCH:
        return 1
    try:
        return max(1, len(_batch.decode(msg.data).events))
    except _DECODE_ERRORS:
        return 1


def to_documents(subject: str, data: bytes) -> list[tuple[RecordKind, dict[str, Any]]]:
    """Decode a message (one event, or a batch of request records). Raises on any poison event."""
    if subject == subjects.ACTIVITY_REQUEST_BATCH:
        return [(RecordKind.REQUEST, _request_document(event)) for event in batched_events(data)]
    return [to_document(subject, data)]


def to_document(subject: str, data: bytes) -> tuple[RecordKind, dict[str, Any]]:
    """Decode one event into (what it becomes, document). Raises on a poison message."""
    if subject == subjects.ACTIVITY_REQUEST_FINISHED:
        return RecordKind.REQUEST, _request_document(data)
    if subject == subjects.ACTIVITY_AUDIT_RECORDED:
        audit = _audit.decode(data)
        doc = msgspec.to_builtins(audit, builtin_types=(type(audit.ts),))
        doc["_id"] = doc.pop("event_id")
        return RecordKind.AUDIT, doc
    raise ValueError(f"unknown subject {subject}")


class NotProvisionedError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"JetStream stream {subjects.ACTIVITY_STREAM} or its consumer {subjects.ACTIVITY_DURABLE} does not exist: "
            "run `keyrelay provision` with the operator's NATS credentials (`keyrelay up` does it by itself)"
        )


class ActivityConsumer:
    def __init__(self, nc: NatsClient, repo: ActivityRepository, settings: ActivitySettings) -> None:
        self._js = nc.jetstream()
        self._repo = repo
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._held: list[NatsMsg] = []  # fetched, not yet stored and acknowledged
        self.stored = 0
        self.dead = 0

    async def _provisioned(self) -> bool:
        try:
            await self._js.consumer_info(subjects.ACTIVITY_STREAM, subjects.ACTIVITY_DURABLE)
        except NotFoundError:
            return False
        return True

    async def start(self) -> None:
        if not await self._provisioned():
            error = NotProvisionedError()
            log.error("consumer.not_provisioned", detail=str(error))
            raise error
        self._sub = await self._js.pull_subscribe_bind(
            durable=subjects.ACTIVITY_DURABLE, stream=subjects.ACTIVITY_STREAM
        )
        self._task = asyncio.create_task(self._loop(), name="activity-consumer")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        # a cancelled fetch leaves its inbox subscription waiting: without this, draining the
        # connection would wait for it until the drain timeout (the durable consumer stays)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
        # messages fetched and not stored yet (stopped while gathering or writing): redelivered now
        # rather than after the ack wait; only after the unsubscribe, so that the server does not
        # deliver them again to the cancelled fetch's pull request
        for msg in self._held:
            with contextlib.suppress(Exception):
                await msg.nak()
        self._held = []

    async def _watch_lag(self) -> None:
        while True:
            await asyncio.sleep(5)
            with contextlib.suppress(Exception):
                info = await self._js.consumer_info(subjects.ACTIVITY_STREAM, subjects.ACTIVITY_DURABLE)
                metrics.LAG.set(info.num_pending or 0)
                metrics.PENDING_ACKS.set(info.num_ack_pending or 0)

    async def _loop(self) -> None:
        lag = asyncio.create_task(self._watch_lag(), name="activity-lag")
        try:
            await self._fetch_forever()
        finally:
            lag.cancel()

    async def _fetch_forever(self) -> None:
        while True:
            try:
                batch = await self._sub.fetch(self._settings.batch_size, timeout=1.0)
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer.fetch_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            self._held = batch
            await self._fill(batch)
            await self.handle_batch(batch)
            self._held = []

    async def _fill(self, batch: list[NatsMsg]) -> None:
        """Add to `batch` what arrives within `write_fill_ms` of now, until it holds `write_records`
        records or `batch_size` messages: one write for all of them instead of one per fetch."""
        limit, wanted = self._settings.batch_size, self._settings.write_records
        records = sum(records_in(msg) for msg in batch)
        if records >= wanted or len(batch) >= limit or self._settings.write_fill_ms <= 0:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.write_fill_ms / 1000
        while records < wanted and len(batch) < limit:
            remaining = deadline - loop.time()
            if remaining < _MIN_FETCH_S:
                return
            try:
                more = await self._sub.fetch(limit - len(batch), timeout=remaining)
            except asyncio.CancelledError:
                raise
            except Exception:  # a timeout, or a failure that the next fetch meets again
                return
            batch.extend(more)
            records += sum(records_in(msg) for msg in more)

    async def handle_batch(self, batch: list[NatsMsg]) -> None:
        """Fast path: one unordered bulk write per kind of record, then ack all. Any failure falls back
        to message-by-message handling, which knows about retries and dead letters."""
        grouped: dict[RecordKind, list[dict[str, Any]]] = {}
        try:
            for msg in batch:
                for kind, doc in to_documents(msg.subject, msg.data):
                    grouped.setdefault(kind, []).append(doc)
            for kind, docs in grouped.items():
                await self._repo.store(kind, docs)
        except Exception:
            for msg in batch:
                await self.handle(msg)
            return
        await asyncio.gather(*(msg.ack() for msg in batch), return_exceptions=True)
        stored = sum(len(docs) for docs in grouped.values())
        self.stored += stored
        for kind, docs in grouped.items():
            metrics.STORED.labels(kind.value).inc(len(docs))

    async def handle(self, msg: NatsMsg) -> None:
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        seq = msg.metadata.sequence.stream if msg.metadata else 0
        if msg.subject == subjects.ACTIVITY_REQUEST_BATCH:
            await self._handle_batched(msg, deliveries, seq)
            return
        try:
            kind, doc = to_document(msg.subject, msg.data)
        except _DECODE_ERRORS as exc:
            await self._dead_letter(msg, f"undecodable: {type(exc).__name__}: {exc}", deliveries, seq)
            return
        failure = await self._store_or_retry(msg, kind, [doc], deliveries)
        if failure is not None:
            await self._dead_letter(msg, failure, deliveries, seq)

    async def _store_or_retry(
        self, msg: NatsMsg, kind: RecordKind, docs: list[dict[str, Any]], deliveries: int
    ) -> str | None:
        """Store `docs` and ack `msg`, or hand it back for a retry (negative ack with a delay).
        Returns why, when the write failed for good (not transient, out of deliveries): the
        caller dead-letters."""
        try:
            await self._repo.store(kind, docs)
        except Exception as exc:
            if not transient(exc) and deliveries >= self._settings.max_deliveries:
                return f"write failed {deliveries} times: {type(exc).__name__}"
            metrics.RETRIES.inc()
            log.warning("consumer.write_failed", error=type(exc).__name__, deliveries=deliveries)
            with contextlib.suppress(Exception):
                await msg.nak(delay=min(0.5 * deliveries, 5.0))
            return None
        await msg.ack()
        self.stored += len(docs)
        metrics.STORED.labels(kind.value).inc(len(docs))
        return None

    async def _handle_batched(self, msg: NatsMsg, deliveries: int, seq: int) -> None:
        """Each event of a batched message as if it had come alone: the undecodable ones are
        dead-lettered one by one, the rest stored together; if their write fails for good, each is
        written alone and only the ones that still fail are dead-lettered."""
        try:
            events = batched_events(msg.data)
        except _DECODE_ERRORS as exc:
            await self._dead_letter(msg, f"undecodable: {type(exc).__name__}: {exc}", deliveries, seq)
            return
        decoded: list[tuple[int, bytes, dict[str, Any]]] = []
        for index, data in enumerate(events):
            try:
                decoded.append((index, data, _request_document(data)))
            except _DECODE_ERRORS as exc:
                reason = f"undecodable: {type(exc).__name__}: {exc}"
                if not await self._dead_letter_event(msg, data, reason, deliveries, f"seq-{seq}.{index}"):
                    return
        docs = [doc for _, _, doc in decoded]
        if await self._store_or_retry(msg, RecordKind.REQUEST, docs, deliveries) is None:
            return
        for index, data, doc in decoded:
            try:
                await self._repo.store(RecordKind.REQUEST, [doc])
            except Exception as exc:
                if transient(exc):  # not this event's fault after all: the whole message again later
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=min(0.5 * deliveries, 5.0))
                    return
                reason = f"write failed {deliveries} times: {type(exc).__name__}"
                if not await self._dead_letter_event(msg, data, reason, deliveries, f"seq-{seq}.{index}"):
                    return
            else:
                self.stored += 1
                metrics.STORED.labels(RecordKind.REQUEST.value).inc()
        await msg.ack()

    async def _dead_letter_event(self, msg: NatsMsg, data: bytes, reason: str, deliveries: int, key: str) -> bool:
        """One event of a batched message to `dead_letters` (under `key`); False, with the message
        handed back for a retry, if even that failed."""
        try:
            await self._repo.dead_letter(
                subject=subjects.ACTIVITY_REQUEST_FINISHED, data=data, reason=reason, deliveries=deliveries, key=key
            )
        except Exception as exc:
            log.exception("consumer.dead_letter_failed", error=type(exc).__name__)
            with contextlib.suppress(Exception):
                await msg.nak(delay=2.0)
            return False
        self.dead += 1
        metrics.DEAD_LETTERS.inc()
        log.error("consumer.dead_lettered", reason=reason[:120], key=key)
        return True

    async def _dead_letter(self, msg: NatsMsg, reason: str, deliveries: int, seq: int) -> None:
        try:
            await self._repo.dead_letter(
                subject=msg.subject, data=msg.data, reason=reason, deliveries=deliveries, key=f"seq-{seq}"
            )
        except Exception as exc:
            log.exception("consumer.dead_letter_failed", error=type(exc).__name__)
            with contextlib.suppress(Exception):
                await msg.nak(delay=2.0)
            return
        self.dead += 1
        metrics.DEAD_LETTERS.inc()
        log.error("consumer.dead_lettered", reason=reason[:120], seq=seq)
        await msg.ack()
