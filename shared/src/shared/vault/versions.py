"""Keyvault's version floors: where they live, who may write them, and how the operator makes them.

A database writer can put back any credential record keyvault once wrote: it still authenticates,
because it was genuine. So keyvault keeps, per integration, the lowest version it may still accept
(its *floor*) outside MongoDB, in a JetStream KV bucket that only keyvault's NATS user (and the
operator) may write: `natsconf` grants `$KV.<bucket>.>` to nobody else. Services never create
streams or buckets; the operator side provisions this one (`provision`, called by the embedded stack;
`deploy/README.md` for clusters).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import nats
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError

BUCKET: Final = "keyrelay_keyvault_versions"
_STREAM: Final = f"KV_{BUCKET}"


def keyvault_permissions() -> list[str]:
    """What keyvault's NATS user needs for the bucket: bind to it, read and compare-and-set. Never create."""
    return [
        f"$KV.{BUCKET}.>",
        f"$JS.API.STREAM.INFO.{_STREAM}",
        f"$JS.API.DIRECT.GET.{_STREAM}.>",
        f"$JS.API.STREAM.MSG.GET.{_STREAM}",
    ]


async def provision(js: JetStreamContext) -> None:
    """Create the bucket if it is missing (operator side; idempotent). One value per key, on disk, no expiry."""
    with contextlib.suppress(BucketNotFoundError):
        await js.key_value(BUCKET)
        return
    await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE, direct=True))


def provision_sync(nats_url: str, user: str, password: str) -> None:
    """`provision` as the operator user, for the embedded stack's synchronous start-up."""

    async def run() -> None:
        nc = await nats.connect(nats_url, user=user, password=password, max_reconnect_attempts=3)
        try:
            await provision(nc.jetstream())
        finally:
            await nc.close()

    asyncio.run(run())
