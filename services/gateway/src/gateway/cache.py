"""Bounded TTL caches (LRU order) for principals, routing snapshots and decrypted keys, with
bounded stale-if-error: the one place that decides when a cached value may outlive its TTL.

* `fetch(key, load)` answers a fresh entry from memory; otherwise it loads (concurrent misses for
  one key share a single load), and stores the result unless an invalidation raced the load.
* When the load finds its dependency unreachable (`DependencyUnavailable`: timeout, no responders,
  bus disconnected), an entry that no change event invalidated keeps answering until its grace
  ends (`stale_until` = last validation + TTL + grace). Such answers are counted
  (`keyrelay_gateway_served_stale_total{cache}`) and named in the request's `served_stale`. While
  an entry is failing, requests get it at once and a background refresh retries at most every
  `RETRY_S`, so an outage does not make every request wait for a timeout.
* Invalidation (`drop`, `drop_where`, `clear`) removes entries at once: a revoked key or a changed
  credential is never served stale. `mark_stale` (after a bus reconnect, when change events may
  have been missed) keeps entries but makes the next use revalidate them.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway import metrics
from shared.errors import DependencyUnavailable
from shared.logging import get_logger

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RETRY_S = 1.0  # while an entry is failing, how often a background refresh tries its dependency
log = get_logger("keyrelay.gateway.cache")

_served_stale: ContextVar[list[str] | None] = ContextVar("keyrelay_served_stale", default=None)


def track_stale() -> list[str]:
    """Start collecting the caches that answer the current request stale (one list per request)."""
    marks: list[str] = []
    _served_stale.set(marks)
    return marks


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    fresh_until: float
    stale_until: float
    failing: bool = False  # the last load found the dependency unreachable
    retry_at: float = 0.0


class TTLCache(Generic[K, V]):
    def __init__(
        self,
        *,
        max_size: int,
        ttl_s: float,
        grace_s: float = 0.0,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._data: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._max_size = max_size
        self._ttl_s = ttl_s
        self._grace_s = max(0.0, grace_s)
        self._clock = clock
        self.name = name
        self._generation = 0  # bumped by every invalidation: a load that raced one is not stored
        self._inflight: dict[K, asyncio.Future[V]] = {}
        self._refreshing: set[asyncio.Task[None]] = set()
        self.hits = 0
        self.misses = 0
        self.stale_hits = 0

    def get(self, key: K) -> V | None:
        """The fresh value, or None (an expired entry stays, in LRU order, for stale-if-error)."""
        entry = self._data.get(key)
        if entry is None or self._clock() >= entry.fresh_until:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return entry.value

    def put(self, key: K, value: V) -> None:
        now = self._clock()
        self._data[key] = _Entry(value, now + self._ttl_s, now + self._ttl_s + self._grace_s)
        self._data.move_to_end(key)
        while len(self._data) > self._max_size:
            self._data.popitem(last=False)

    async def fetch(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value for `key`: fresh from memory, loaded, or (dependency unreachable) stale within its grace."""
        fresh = self.get(key)
        if fresh is not None:
            return fresh
        entry = self._data.get(key)
        if entry is not None and entry.failing and self._clock() < entry.stale_until:
            self._refresh_later(key, load)
            return self._stale(key, entry)
        try:
            return await self._load_once(key, load)
        except DependencyUnavailable:
            entry = self._data.get(key)  # an invalidation while loading removed it: then no stale answer
            if entry is None or self._clock() >= entry.stale_until:
                raise
            entry.failing, entry.retry_at = True, self._clock() + RETRY_S
            return self._stale(key, entry)
        except Exception:
            self._data.pop(key, None)  # the dependency refused: the old answer is no longer good
            raise

    def last_known(self, key: K) -> V | None:
        """The value last validated for `key`, however old: only to label a failure, never to serve."""
        entry = self._data.get(key)
        return None if entry is None else entry.value

    def _stale(self, key: K, entry: _Entry[V]) -> V:
        self._data.move_to_end(key)
        self.stale_hits += 1
        metrics.STALE_SERVED.labels(self.name).inc()
        marks = _served_stale.get()
        if marks is not None and self.name not in marks:
            marks.append(self.name)
        return entry.value

    async def _load_once(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        generation = self._generation
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(value)
            if generation == self._generation:
                self.put(key, value)
            return value
        finally:
            self._inflight.pop(key, None)

    def _refresh_later(self, key: K, load: Callable[[], Awaitable[V]]) -> None:
        entry = self._data.get(key)
        now = self._clock()
        if entry is None or now < entry.retry_at or key in self._inflight:
            return
        entry.retry_at = now + RETRY_S
        task = asyncio.create_task(self._refresh(key, load))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _refresh(self, key: K, load: Callable[[], Awaitable[V]]) -> None:
        try:
            await self._load_once(key, load)
        except DependencyUnavailable:
            pass  # still unreachable: the entry keeps failing until its grace ends
        except Exception as exc:  # the dependency answered with a refusal: stop serving the old answer
            log.info("cache.refresh_refused", cache=self.name, error=type(exc).__name__)
            self.drop(key)

    def drop(self, key: K) -> None:
        self._generation += 1
        self._data.pop(key, None)

    def drop_where(self, predicate: Callable[[K, V], bool]) -> int:
        self._generation += 1
        doomed = [k for k, entry in self._data.items() if predicate(k, entry.value)]
        for key in doomed:
            del self._data[key]
        return len(doomed)

    def clear(self) -> None:
        self._generation += 1
        self._data.clear()

    def mark_stale(self) -> None:
        """Keep every entry, but make its next use revalidate it (change events may have been missed)."""
        self._generation += 1
        now = self._clock()
        for entry in self._data.values():
            entry.fresh_until = min(entry.fresh_until, now)
            entry.failing, entry.retry_at = False, 0.0

    def __len__(self) -> int:
        return len(self._data)
