"""The gateway's caches answer stale only while a dependency is unreachable, only within the grace,
and never for an entry a change event invalidated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.cache import TTLCache, track_stale
from gateway.catalog_client import CatalogClient
from gateway.settings import GatewaySettings
from shared.errors import DependencyUnavailable, KeyrelayError
from shared.messages.catalog import ApiKeyPrincipal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Dependency:
    def __init__(self) -> None:
        self.value = "v1"
        self.failure: KeyrelayError | None = None
        self.calls = 0

    async def load(self) -> str:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.value


def cache(clock: Clock) -> TTLCache[str, str]:
    return TTLCache(max_size=10, ttl_s=30, grace_s=60, name="principal", clock=clock)


async def test_an_expired_entry_answers_stale_within_the_grace_while_its_dependency_is_unreachable() -> None:
    clock, dep = Clock(), Dependency()
    c = cache(clock)
    assert await c.fetch("k", dep.load) == "v1"
    marks = track_stale()
    dep.failure = DependencyUnavailable("catalog did not answer")
    clock.now += 31
    assert await c.fetch("k", dep.load) == "v1"
    assert marks == ["principal"]
    clock.now += 58  # 89 s after validation: still inside TTL + grace
    assert await c.fetch("k", dep.load) == "v1"
    clock.now += 2
    with pytest.raises(DependencyUnavailable):
        await c.fetch("k", dep.load)


async def test_an_invalidated_entry_is_never_answered_stale() -> None:
    clock, dep = Clock(), Dependency()
    c = cache(clock)
    await c.fetch("k", dep.load)
    c.drop_where(lambda key, _: key == "k")  # a change event (revocation, rotation)
    dep.failure = DependencyUnavailable("catalog did not answer")
    clock.now += 31
    with pytest.raises(DependencyUnavailable):
        await c.fetch("k", dep.load)


async def test_a_refusal_from_the_dependency_ends_the_stale_answers_at_once() -> None:
    clock, dep = Clock(), Dependency()
    c = cache(clock)
    await c.fetch("k", dep.load)
    clock.now += 31
    dep.failure = KeyrelayError("invalid_api_key", "unknown key")
    with pytest.raises(KeyrelayError):
        await c.fetch("k", dep.load)
    dep.failure = DependencyUnavailable("catalog did not answer")
    with pytest.raises(DependencyUnavailable):
        await c.fetch("k", dep.load)


async def test_after_a_reconnect_entries_are_revalidated_not_dropped() -> None:
    clock, dep = Clock(), Dependency()
    c = cache(clock)
    await c.fetch("k", dep.load)
    c.mark_stale()
    dep.value = "v2"
    assert await c.fetch("k", dep.load) == "v2"  # revalidated on next use
    c.mark_stale()
    dep.failure = DependencyUnavailable("catalog did not answer")
    assert await c.fetch("k", dep.load) == "v2"  # catalog not back yet: stale within the grace
    assert c.stale_hits == 1


async def test_while_failing_requests_get_the_stale_entry_without_waiting_for_the_dependency() -> None:
    clock, dep = Clock(), Dependency()
    c = cache(clock)
    await c.fetch("k", dep.load)
    clock.now += 31
    dep.failure = DependencyUnavailable("keyvault did not answer")
    await c.fetch("k", dep.load)
    calls = dep.calls
    for _ in range(5):
        assert await c.fetch("k", dep.load) == "v1"
    assert dep.calls == calls  # no retry before RETRY_S passed


async def test_with_no_grace_nothing_is_answered_stale() -> None:
    clock, dep = Clock(), Dependency()
    c: TTLCache[str, str] = TTLCache(max_size=10, ttl_s=30, clock=clock)
    await c.fetch("k", dep.load)
    clock.now += 31
    dep.failure = DependencyUnavailable("catalog did not answer")
    with pytest.raises(DependencyUnavailable):
        await c.fetch("k", dep.load)


async def test_an_expired_api_key_is_refused_even_from_a_stale_principal() -> None:
    """The principal's own expiry is checked on every answer, fresh or stale."""

    class Bus:
        def __init__(self) -> None:
            self.down = False

        async def request(self, *_: object, **__: object) -> ApiKeyPrincipal:
            if self.down:
                raise DependencyUnavailable("catalog did not answer")
            return ApiKeyPrincipal(
                api_key_id="key_1",
                org_id="org_1",
                project_id="prj_1",
                expires_at=datetime.now(UTC) + timedelta(seconds=0.2),
            )

    bus = Bus()
    catalog = CatalogClient(bus, GatewaySettings(principal_ttl_s=0.05, stale_grace_s=60))  # type: ignore[arg-type]
    assert (await catalog.api_key("kr-key")).api_key_id == "key_1"
    bus.down = True
    await asyncio.sleep(0.1)
    assert (await catalog.api_key("kr-key")).api_key_id == "key_1"  # stale, not yet expired
    await asyncio.sleep(0.15)
    with pytest.raises(KeyrelayError) as info:
        await catalog.api_key("kr-key")
    assert info.value.code == "invalid_api_key"
