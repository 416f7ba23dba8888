"""JetStream provisioning, done by the operator: the activity stream, its durable consumer, the KV buckets.

No service defines or changes a stream, a consumer or a bucket: their NATS users may only bind to
what exists (see `shared.natsconf`), so a compromised service cannot widen the activity stream to
capture other services' reply inboxes, or make a consumer of its own. This module is the one place
that creates them, with the operator's credentials, idempotently (create if missing, otherwise
apply the configuration again). The embedded stack runs it once nats-server is up and before any
service starts; `keyrelay provision` runs it against a cluster (again after changing a setting).

Settings (`KEYRELAY_*`): `STREAM_MAX_AGE_DAYS`, `STREAM_MAX_BYTES`, `STREAM_REPLICAS` (also used
for the KV buckets), `RESPONSES_MAX_BYTES` (the Responses API contexts: past it, the oldest go first).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

from shared import subjects
from shared.bus import connect
from shared.settings import CommonSettings
from shared.vault import versions

T = TypeVar("T")


class ProvisionSettings(CommonSettings, frozen=True, kw_only=True):
    stream_max_age_days: float = 7.0
    stream_max_bytes: int = 10 * 1024**3
    stream_replicas: int = 1
    responses_max_bytes: int = 5 * 1024**3


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    ttl_s: float | None  # None: entries never expire
    # a cache of user content, capped at `responses_max_bytes`: when full the oldest entries go, so
    # it can never fill the JetStream store the activity stream and the limits share
    cache: bool = False


# Responses API context is kept as long as OpenAI keeps a stored response: 30 days
RESPONSES_TTL_S = 30 * 86400.0
# a media job's handle (never its credential) can be fetched for 7 days; small entries, never dropped
# for room (a paid job stays readable until its TTL)
JOBS_TTL_S = 7 * 86400.0
# the gateway's limits (shared by every replica), its Responses API context, and keyvault's version
# floors (`shared.vault.versions`)
BUCKETS = (
    Bucket(subjects.RATE_BUCKET, 180.0),
    Bucket(subjects.SPEND_BUCKET, None),
    Bucket(subjects.RESPONSES_BUCKET, RESPONSES_TTL_S, cache=True),
    Bucket(subjects.JOBS_BUCKET, JOBS_TTL_S),
    Bucket(versions.BUCKET, None),
)


def activity_stream(settings: ProvisionSettings) -> StreamConfig:
    """File-backed, `discard: new` (a full stream refuses events, publishers keep and retry them
    instead of old ones being lost silently), deduplicated by `Nats-Msg-Id` for 5 minutes."""
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


def activity_consumer() -> ConsumerConfig:
    return ConsumerConfig(
        name=subjects.ACTIVITY_DURABLE,
        durable_name=subjects.ACTIVITY_DURABLE,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30,
        max_deliver=-1,
        max_ack_pending=10_000,
        filter_subject=subjects.ACTIVITY_SUBJECTS,
    )


def bucket_stream(bucket: Bucket, settings: ProvisionSettings) -> StreamConfig:
    """The stream behind a KV bucket, as nats-py's `create_key_value` lays it out (history 1),
    with direct gets so a replica answers reads."""
    return StreamConfig(
        name=f"KV_{bucket.name}",
        subjects=[f"$KV.{bucket.name}.>"],
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD if bucket.cache else DiscardPolicy.NEW,
        max_bytes=settings.responses_max_bytes if bucket.cache else -1,
        num_replicas=settings.stream_replicas,
        max_age=bucket.ttl_s,
        max_msgs_per_subject=1,
        max_msgs=-1,
        max_consumers=-1,
        duplicate_window=min(120.0, bucket.ttl_s or 120.0),
        allow_rollup_hdrs=True,
        deny_delete=True,
        allow_direct=True,
        allow_msg_ttl=True,
    )


async def _retrying(call: Callable[[], Awaitable[T]], deadline: float) -> T:
    """JetStream may still be starting (no responders, 503) right after nats-server listens."""
    while True:
        try:
            return await call()
        except (NoRespondersError, ServiceUnavailableError, NatsTimeoutError):
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)


async def _ensure_stream(js: JetStreamContext, config: StreamConfig, deadline: float) -> str:
    assert config.name is not None  # noqa: S101 - every config above is named
    name = config.name
    try:
        await _retrying(lambda: js.stream_info(name), deadline)
    except NotFoundError:
        await js.add_stream(config)
        return "created"
    await js.update_stream(config)
    return "up to date"


async def _ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> str:
    assert config.durable_name is not None  # noqa: S101
    try:
        await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        created = "created"
    else:
        created = "up to date"
    await js.add_consumer(stream, config)  # create, or apply the editable fields again
    return created


async def provision_with(nc: NatsClient, settings: ProvisionSettings, *, wait_s: float = 10.0) -> list[str]:
    """Create or update every JetStream object Keyrelay uses; one line per object."""
    js = nc.jetstream(timeout=5.0)
    deadline = time.monotonic() + wait_s
    lines = [f"stream {subjects.ACTIVITY_STREAM}: {await _ensure_stream(js, activity_stream(settings), deadline)}"]
    consumer = await _ensure_consumer(js, subjects.ACTIVITY_STREAM, activity_consumer())
    lines.append(f"consumer {subjects.ACTIVITY_STREAM}/{subjects.ACTIVITY_DURABLE}: {consumer}")
    for bucket in BUCKETS:
        lines.append(f"kv bucket {bucket.name}: {await _ensure_stream(js, bucket_stream(bucket, settings), deadline)}")
    return lines


async def provision(settings: ProvisionSettings) -> list[str]:
    """Connect as the operator (`KEYRELAY_NATS_USER`/`_PASSWORD`) and provision."""
    nc = await connect(settings, "operator", max_reconnect_attempts=3)
    try:
        return await provision_with(nc, settings)
    finally:
        await nc.close()


def provision_blocking(settings: ProvisionSettings) -> list[str]:
    """`provision` from synchronous code, whether or not an event loop runs in this thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, provision(settings)).result(timeout=60)
