"""Catalog over NATS, cached: API-key principals, member principals, routing snapshots.

The hot path pays no NATS round trip once warm: principals and snapshots are cached with a TTL and
dropped at once when catalog broadcasts a change for the org (`events.v1.catalog.changed`), so a
revoked key stops working on every replica immediately. Concurrent misses for one key share a
single request (single flight).

A cached API-key principal is checked again on every hit: past its `expires_at` it is refused
at once, however long the cache would keep it. A principal loaded while an API-key or project
change arrived is used for that request but not cached, so a revocation that lands during the
load cannot be undone by the load putting the old principal back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from gateway.cache import TTLCache
from gateway.settings import GatewaySettings
from shared import subjects
from shared.bus import BusClient
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import hash_token

T = TypeVar("T")


class CatalogClient:
    def __init__(self, bus: BusClient, settings: GatewaySettings) -> None:
        self._bus = bus
        self._timeout = settings.catalog_timeout_s
        self._keys: TTLCache[str, m.ApiKeyPrincipal] = TTLCache(max_size=50_000, ttl_s=settings.principal_ttl_s)
        self._bad_keys: TTLCache[str, KeyrelayError] = TTLCache(max_size=10_000, ttl_s=2.0)
        self._members: TTLCache[str, m.MemberPrincipal] = TTLCache(
            max_size=5_000, ttl_s=min(5.0, settings.principal_ttl_s)
        )
        self._snapshots: TTLCache[tuple[str, str], m.RoutingSnapshot] = TTLCache(
            max_size=10_000, ttl_s=settings.snapshot_ttl_s
        )
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self._key_changes = 0  # bumped by every API-key or project change event and by `clear`

    async def _single_flight(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        else:
            future.set_result(value)
            return value
        finally:
            self._inflight.pop(key, None)

    async def api_key(self, raw_key: str) -> m.ApiKeyPrincipal:
        key_hash = hash_token(raw_key)
        cached = self._keys.get(key_hash)
        if cached is not None:
            if expired(cached):
                self._keys.drop(key_hash)
                raise KeyrelayError("invalid_api_key", "API key expired")
            return cached
        refused = self._bad_keys.get(key_hash)
        if refused is not None:
            raise KeyrelayError(refused.code, refused.message)

        async def load() -> m.ApiKeyPrincipal:
            changes_before = self._key_changes
            try:
                principal: m.ApiKeyPrincipal = await self._bus.request(
                    subjects.CATALOG_AUTH_API_KEY,
                    m.AuthenticateApiKey(key_hash=key_hash),
                    m.ApiKeyPrincipal,
                    timeout_s=self._timeout,
                    dependency="catalog",
                )
            except KeyrelayError as exc:
                if exc.code == "invalid_api_key":
                    self._bad_keys.put(key_hash, exc)
                raise
            if changes_before == self._key_changes:
                self._keys.put(key_hash, principal)
            return principal

        return await self._single_flight(("key", key_hash), load)

    async def member(self, raw_token: str) -> m.MemberPrincipal:
        token_hash = hash_token(raw_token)
        cached = self._members.get(token_hash)
        if cached is not None:
            return cached
        principal: m.MemberPrincipal = await self._bus.request(
            subjects.CATALOG_AUTH_MEMBER,
            m.AuthenticateMember(token_hash=token_hash),
            m.MemberPrincipal,
            timeout_s=self._timeout,
            dependency="catalog",
        )
        self._members.put(token_hash, principal)
        return principal

    async def snapshot(self, org_id: str, project_id: str) -> m.RoutingSnapshot:
        key = (org_id, project_id)
        cached = self._snapshots.get(key)
        if cached is not None:
            return cached

        async def load() -> m.RoutingSnapshot:
            snap: m.RoutingSnapshot = await self._bus.request(
                subjects.CATALOG_SNAPSHOT,
                m.SnapshotRequest(org_id=org_id, project_id=project_id),
                m.RoutingSnapshot,
                timeout_s=self._timeout,
                dependency="catalog",
            )
            self._snapshots.put(key, snap)
            return snap

        return await self._single_flight(("snap", *key), load)

    async def manage(self, raw_token: str, command: Any, request_id: str, timeout_s: float = 10.0) -> m.ManageReply:
        reply: m.ManageReply = await self._bus.request(
            subjects.CATALOG_MANAGE,
            m.ManageRequest(token_hash=hash_token(raw_token), command=command, request_id=request_id),
            m.ManageReply,
            timeout_s=timeout_s,
            dependency="catalog",
        )
        return reply

    async def report(self, report: m.IntegrationReport) -> None:
        await self._bus.request(subjects.CATALOG_REPORT, report, m.Ack, timeout_s=self._timeout, dependency="catalog")

    def on_changed(self, event: m.CatalogChanged) -> None:
        """Drop everything cached for the org that the change can affect."""
        self._snapshots.drop_where(lambda key, _: key[0] == event.org_id)
        if event.kind in {"api_key", "project"}:
            self._key_changes += 1
            ids = set(event.ids)
            self._keys.drop_where(
                lambda _, p: p.org_id == event.org_id and (p.api_key_id in ids or p.project_id in ids)
            )
        if event.kind == "member":
            self._members.drop_where(lambda _, p: p.org_id == event.org_id)

    def clear(self) -> None:
        self._key_changes += 1
        self._keys.clear()
        self._members.clear()
        self._snapshots.clear()

    @property
    def cache_stats(self) -> dict[str, int]:
        return {
            "snapshot_hits": self._snapshots.hits,
            "snapshot_misses": self._snapshots.misses,
            "key_hits": self._keys.hits,
            "key_misses": self._keys.misses,
        }


def expired(principal: m.ApiKeyPrincipal, now: datetime | None = None) -> bool:
    """Whether the key's `expires_at` has passed (a naive timestamp is UTC, as catalog stores it)."""
    expires = principal.expires_at
    if expires is None:
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires <= (now or datetime.now(UTC))
