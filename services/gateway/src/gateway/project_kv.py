"""A JetStream KV bucket of per-project entries (the Responses API's stored responses, media jobs):
opened once on first use, keyed `<org>.<project>.<id>` from the caller's authenticated key, so a
project reads only its own entries whatever id it sends."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import ClassVar

from nats.aio.client import Client as NatsClient
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.catalog import ApiKeyPrincipal

log = get_logger("keyrelay.gateway.project_kv")


class ProjectBucket:
    """`bucket`'s entries of one kind (`what`, for logs and errors), ids matching the class's `IDS`."""

    IDS: ClassVar[re.Pattern[str]]

    def __init__(self, nc: NatsClient, bucket: str, what: str) -> None:
        self._js = nc.jetstream()
        self._name, self._what = bucket, what
        self._kv: KeyValue | None = None
        self._lock = asyncio.Lock()

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            async with self._lock:
                if self._kv is None:
                    with contextlib.suppress(BucketNotFoundError, NotFoundError):
                        self._kv = await self._js.key_value(self._name)
                    if self._kv is None:
                        log.error(
                            "bucket_not_provisioned", bucket=self._name, hint="the operator runs `keyrelay provision`"
                        )
                        raise KeyrelayError("dependency_unavailable", f"the {self._what} store is not available")
        return self._kv

    @classmethod
    def key(cls, principal: ApiKeyPrincipal, entry_id: str) -> str | None:
        """The caller's project's key for `entry_id`, or None for an id of the wrong shape."""
        if not cls.IDS.fullmatch(entry_id):
            return None
        return f"{principal.org_id}.{principal.project_id}.{entry_id}"
