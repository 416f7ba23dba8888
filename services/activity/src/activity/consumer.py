"""The durable JetStream consumer: every event stored once, nothing dropped, nothing stalls.

* The stream is file-backed, `discard: new` (a full stream refuses new events so publishers keep
  them and retry, instead of silently losing old ones), deduplicates by `Nats-Msg-Id`.
* A message is acknowledged only after MongoDB acknowledged the write; a duplicate key means it
  was already stored, which counts as stored.
* While MongoDB is unreachable, messages are simply retried (negative ack with a delay).
* A message that cannot be decoded, or whose write keeps failing for `max_deliveries` tries for a
  reason other than MongoDB being unreachable, goes to the `dead_letters` collection with its
  reason and is then acknowledged: it never blocks the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg as NatsMsg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure

from activity import metrics
from activity.repository import ActivityRepository
from activity.settings import ActivitySettings
from shared import subjects
from shared.logging import get_logger
from shared.messages.activity import AuditEvent, RequestFinished

log = get_logger("keyrelay.activity.consumer")
_finished = msgspec.json.Decoder(RequestFinished)
_audit = msgspec.json.Decoder(AuditEvent)


def stream_config(settings: ActivitySettings) -> StreamConfig:
    return StreamConfig(
        name=subjects.ACTIVITY_STREAM,
        subjects=[subjects.ACTIVITY_SUBJECTS],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.NEW,
        num_replicas=settings.stream_replicas,
        max_age=settings.stream_max_age_days * 86400,
        max_bytes=settings.stream_max_bytes,
        duplicate_window=300,
    )


async def ensure_stream(js: JetStreamContext, settings: ActivitySettings) -> None:
    config = stream_config(settings)
    try:
        await js.stream_info(subjects.ACTIVITY_STREAM)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


def to_document(subject: str, data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode one event into (collection name, document). Raises on a poison message."""
    if subject == subjects.ACTIVITY_REQUEST_FINISHED:
        event = _finished.decode(data)
        doc = msgspec.to_builtins(event, builtin_types=(type(event.ts),))
        doc["_id"] = doc.pop("request_id")
        doc.setdefault("usage", {})
        return "requests", doc
    if subject == subjects.ACTIVITY_AUDIT_RECORDED:
        audit = _audit.decode(data)
        doc = msgspec.to_builtins(audit, builtin_types=(type(audit.ts),))
        doc["_id"] = doc.pop("event_id")
        return "audit", doc
    raise ValueError(f"unknown subject {subject}")


class ActivityConsumer:
    def __init__(self, nc: NatsClient, repo: ActivityRepository, settings: ActivitySettings) -> None:
        self._js = nc.jetstream()
        self._repo = repo
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self.stored = 0
        self.dead = 0
        self._writes = 0

    async def start(self) -> None:
        await ensure_stream(self._js, self._settings)
        config = ConsumerConfig(
            durable_name=subjects.ACTIVITY_DURABLE,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_deliver=-1,
            max_ack_pending=10_000,
            filter_subject=subjects.ACTIVITY_SUBJECTS,
        )
        self._sub = await self._js.pull_subscribe(
            subjects.ACTIVITY_SUBJECTS,
            durable=subjects.ACTIVITY_DURABLE,
            stream=subjects.ACTIVITY_STREAM,
            config=config,
        )
        self._task = asyncio.create_task(self._loop(), name="activity-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # a cancelled fetch leaves its inbox subscription waiting: without this, draining the
        # connection would wait for it until the drain timeout (the durable consumer stays)
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

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
            await self.handle_batch(batch)

    async def handle_batch(self, batch: list[NatsMsg]) -> None:
        """Fast path: one unordered bulk insert per collection, then ack all. Any failure falls back
        to message-by-message handling, which knows about retries and dead letters."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        try:
            for msg in batch:
                collection, doc = to_document(msg.subject, msg.data)
                grouped.setdefault(collection, []).append(doc)
            for collection, docs in grouped.items():
                await self._repo.store_many(getattr(self._repo, collection), docs)
            self._maybe_crash()
        except Exception:
            for msg in batch:
                await self.handle(msg)
            return
        await asyncio.gather(*(msg.ack() for msg in batch), return_exceptions=True)
        self.stored += len(batch)
        for collection, docs in grouped.items():
            metrics.STORED.labels(collection).inc(len(docs))

    def _maybe_crash(self) -> None:
        """Fault injection (tests only): die between the MongoDB write and the ack."""
        if self._settings.test_crash_after_writes:
            self._writes += 1
            if self._writes >= self._settings.test_crash_after_writes:
                log.error("consumer.injected_crash", writes=self._writes)
                os._exit(17)

    async def handle(self, msg: NatsMsg) -> None:
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        seq = msg.metadata.sequence.stream if msg.metadata else 0
        try:
            collection, doc = to_document(msg.subject, msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            await self._dead_letter(msg, f"undecodable: {type(exc).__name__}: {exc}", deliveries, seq)
            return
        try:
            await self._repo.store(getattr(self._repo, collection), doc)
        except Exception as exc:
            transient = isinstance(exc, PyMongoConnectionFailure)
            if not transient and deliveries >= self._settings.max_deliveries:
                await self._dead_letter(msg, f"write failed {deliveries} times: {type(exc).__name__}", deliveries, seq)
                return
            metrics.RETRIES.inc()
            log.warning("consumer.write_failed", error=type(exc).__name__, deliveries=deliveries)
            with contextlib.suppress(Exception):
                await msg.nak(delay=min(0.5 * deliveries, 5.0))
            return
        await msg.ack()
        self.stored += 1
        metrics.STORED.labels(collection).inc()

    async def _dead_letter(self, msg: NatsMsg, reason: str, deliveries: int, seq: int) -> None:
        try:
            await self._repo.dead_letter(
                subject=msg.subject, data=msg.data, reason=reason, deliveries=deliveries, seq=seq
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
