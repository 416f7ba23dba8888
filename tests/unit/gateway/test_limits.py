"""Rate limits and budgets: per key and per project, per minute and per budget period.

The JetStream KV buckets are replaced by an in-memory store with the same compare-and-set rules
(`create` fails on an existing key, `update` on a stale revision), and the clock is frozen, so the
counting logic is tested without a process. `tests/e2e/test_limits.py` runs it on real NATS.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError

from gateway import limits
from gateway.limits import Limits, Scope, nano_usd, period_key, scopes
from shared.errors import ErrorCode, KeyrelayError
from shared.messages.activity import RequestFinished
from shared.messages.catalog import ApiKeyPrincipal
from shared.messages.usage import Usage
from shared.subjects import RATE_BUCKET, SPEND_BUCKET


@dataclass
class Entry:
    value: bytes
    revision: int


class MemoryKV:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.revision = 0
        self.conflicts = 0  # how many upcoming writes to refuse as if another replica won the race

    async def get(self, key: str) -> Entry:
        await asyncio.sleep(0)  # a round trip: lets concurrent admissions interleave
        if key not in self.entries:
            raise KeyNotFoundError
        return self.entries[key]

    def _write(self, key: str, value: bytes) -> int:
        self.revision += 1
        self.entries[key] = Entry(value, self.revision)
        return self.revision

    async def create(self, key: str, value: bytes) -> int:
        if key in self.entries or self._lose_race():
            raise KeyWrongLastSequenceError
        return self._write(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        if self.entries[key].revision != last or self._lose_race():
            raise KeyWrongLastSequenceError
        return self._write(key, value)

    def _lose_race(self) -> bool:
        if self.conflicts:
            self.conflicts -= 1
            return True
        return False

    def value(self, key: str) -> int:
        return int(self.entries[key].value)


class MemoryJetStream:
    def __init__(self, *names: str) -> None:
        self.buckets = {name: MemoryKV() for name in names}
        self.bound: list[str] = []

    async def key_value(self, name: str) -> MemoryKV:
        self.bound.append(name)
        if name not in self.buckets:
            raise BucketNotFoundError
        return self.buckets[name]


class MemoryNats:
    def __init__(self, js: MemoryJetStream) -> None:
        self.js = js

    def jetstream(self) -> MemoryJetStream:
        return self.js


class FrozenClock(datetime):
    at: ClassVar[datetime] = datetime(2026, 3, 10, 12, 0, 15, tzinfo=UTC)

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return cls.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> type[FrozenClock]:
    monkeypatch.setattr(limits, "datetime", FrozenClock)
    FrozenClock.at = datetime(2026, 3, 10, 12, 0, 15, tzinfo=UTC)
    return FrozenClock


@pytest.fixture
def js() -> MemoryJetStream:
    return MemoryJetStream(RATE_BUCKET, SPEND_BUCKET)


def gateway(js: MemoryJetStream) -> Limits:
    """One gateway replica's limiter; several share the same store."""
    return Limits(MemoryNats(js))  # type: ignore[arg-type]


def principal(key: str = "key-1", project: str = "prj-1", **limits_: Any) -> ApiKeyPrincipal:
    return ApiKeyPrincipal(api_key_id=key, org_id="org", project_id=project, **limits_)


def finished(who: ApiKeyPrincipal, *, tokens: int = 0, cost: float = 0.0) -> RequestFinished:
    return RequestFinished(
        request_id="req",
        ts=datetime.now(UTC),
        org_id=who.org_id,
        project_id=who.project_id,
        api_key_id=who.api_key_id,
        usage=Usage(total_tokens=tokens),
        cost_usd=cost,
    )


async def admitted(limiter: Limits, who: ApiKeyPrincipal) -> ErrorCode | None:
    try:
        await limiter.admit(who)
    except KeyrelayError as exc:
        return exc.code
    return None


# --- scopes and periods -----------------------------------------------------------------------------
def test_a_key_and_project_without_limits_have_no_scope() -> None:
    assert scopes(principal()) == []


def test_a_keys_limits_and_its_projects_limits_are_separate_scopes() -> None:
    who = principal(rpm=5, budget_usd=10.0, budget_period="day", project_tpm=1000)
    assert scopes(who) == [
        Scope("key", "key-1", 5, None, 10.0, "day"),
        Scope("project", "prj-1", None, 1000, None, None),
    ]


def test_a_budget_of_zero_is_a_limit() -> None:
    assert [s.name for s in scopes(principal(budget_usd=0.0))] == ["key"]


@pytest.mark.parametrize(
    ("period", "at", "bucket"),
    [
        ("day", datetime(2026, 3, 10, 23, 59, tzinfo=UTC), "d20260310"),
        ("week", datetime(2026, 3, 10, tzinfo=UTC), "w202611"),
        ("week", datetime(2027, 1, 1, tzinfo=UTC), "w202653"),  # ISO week: still 2026's last week
        ("month", datetime(2026, 3, 31, tzinfo=UTC), "m202603"),
        (None, datetime(2026, 3, 31, tzinfo=UTC), "m202603"),  # the default period is a month
        ("total", datetime(2026, 3, 31, tzinfo=UTC), "total"),
    ],
)
def test_each_budget_period_has_its_own_bucket(period: str | None, at: datetime, bucket: str) -> None:
    assert period_key(period, at) == bucket


# --- requests per minute ----------------------------------------------------------------------------
async def test_a_principal_without_limits_never_touches_the_store(js: MemoryJetStream) -> None:
    limiter = gateway(js)
    await limiter.admit(principal())
    await limiter.account(principal(), finished(principal(), tokens=100, cost=1.0))
    assert js.bound == []


async def test_a_keys_requests_per_minute_stop_at_its_limit_with_a_retry_hint(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    limiter, who = gateway(js), principal(rpm=2)
    assert [await admitted(limiter, who) for _ in range(3)] == [None, None, ErrorCode.RATE_LIMITED]
    with pytest.raises(KeyrelayError) as caught:
        await limiter.admit(who)
    assert caught.value.status == 429
    assert caught.value.retry_after == 45  # the rest of the minute
    assert "2 requests per minute" in caught.value.message


async def test_a_new_minute_starts_a_new_count(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter, who = gateway(js), principal(rpm=1)
    assert await admitted(limiter, who) is None
    assert await admitted(limiter, who) is ErrorCode.RATE_LIMITED
    clock.at += timedelta(minutes=1)
    assert await admitted(limiter, who) is None


async def test_replicas_share_one_count_so_together_they_admit_exactly_the_limit(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    replicas, who = [gateway(js) for _ in range(3)], principal(rpm=5)
    results = await asyncio.gather(*(admitted(replicas[n % 3], who) for n in range(12)))
    assert results.count(None) == 5
    assert results.count(ErrorCode.RATE_LIMITED) == 7


async def test_a_projects_limit_counts_every_key_of_the_project(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter = gateway(js)
    first, second = principal("key-1", project_rpm=2), principal("key-2", project_rpm=2)
    assert [await admitted(limiter, k) for k in (first, second, first)] == [None, None, ErrorCode.RATE_LIMITED]
    other_project = principal("key-3", project="prj-2", project_rpm=2)
    assert await admitted(limiter, other_project) is None


async def test_a_lost_compare_and_set_race_is_retried(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter, who = gateway(js), principal(rpm=5)
    js.buckets[RATE_BUCKET].conflicts = 3
    assert await admitted(limiter, who) is None
    assert js.buckets[RATE_BUCKET].value("key.key-1.rpm.202603101200") == 1


async def test_a_store_too_contended_to_count_is_dependency_unavailable(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    limiter = gateway(js)
    js.buckets[RATE_BUCKET].conflicts = 1000
    assert await admitted(limiter, principal(rpm=5)) is ErrorCode.DEPENDENCY_UNAVAILABLE


async def test_an_unprovisioned_bucket_is_dependency_unavailable() -> None:
    limiter = gateway(MemoryJetStream(SPEND_BUCKET))
    with pytest.raises(KeyrelayError) as caught:
        await limiter.admit(principal(rpm=5))
    assert (caught.value.code, caught.value.status) == (ErrorCode.DEPENDENCY_UNAVAILABLE, 503)


# --- tokens per minute ------------------------------------------------------------------------------
async def test_tokens_used_in_a_minute_stop_further_requests_that_minute(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    limiter, who = gateway(js), principal(tpm=1000)
    assert await admitted(limiter, who) is None
    await limiter.account(who, finished(who, tokens=600))
    assert await admitted(limiter, who) is None  # 600 of 1000: the next request may still go
    await limiter.account(who, finished(who, tokens=600))
    assert await admitted(limiter, who) is ErrorCode.RATE_LIMITED
    clock.at += timedelta(minutes=1)
    assert await admitted(limiter, who) is None


# --- budgets ----------------------------------------------------------------------------------------
async def test_a_spent_budget_refuses_requests_with_budget_exceeded(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    limiter, who = gateway(js), principal(budget_usd=1.0, budget_period="day")
    await limiter.account(who, finished(who, cost=0.6))
    assert await admitted(limiter, who) is None
    await limiter.account(who, finished(who, cost=0.4))
    with pytest.raises(KeyrelayError) as caught:
        await limiter.admit(who)
    assert (caught.value.code, caught.value.status) == (ErrorCode.BUDGET_EXCEEDED, 402)
    assert "budget of $1 per day" in caught.value.message


async def test_a_daily_budget_starts_again_the_next_day(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter, who = gateway(js), principal(budget_usd=1.0, budget_period="day")
    await limiter.account(who, finished(who, cost=2.0))
    assert await admitted(limiter, who) is ErrorCode.BUDGET_EXCEEDED
    clock.at += timedelta(days=1)
    assert await admitted(limiter, who) is None


async def test_a_total_budget_never_starts_again(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter, who = gateway(js), principal(budget_usd=1.0, budget_period="total")
    await limiter.account(who, finished(who, cost=2.0))
    clock.at += timedelta(days=400)
    assert await admitted(limiter, who) is ErrorCode.BUDGET_EXCEEDED


async def test_a_project_budget_counts_the_spend_of_every_key(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter = gateway(js)
    first, second = principal("key-1", project_budget_usd=1.0), principal("key-2", project_budget_usd=1.0)
    await limiter.account(first, finished(first, cost=0.7))
    await limiter.account(second, finished(second, cost=0.3))
    assert await admitted(limiter, first) is ErrorCode.BUDGET_EXCEEDED
    assert await admitted(limiter, second) is ErrorCode.BUDGET_EXCEEDED


async def test_a_budget_of_zero_refuses_every_request(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    assert await admitted(gateway(js), principal(budget_usd=0.0)) is ErrorCode.BUDGET_EXCEEDED


async def test_spend_is_kept_in_nano_dollars_and_a_tiny_cost_still_counts(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    limiter, who = gateway(js), principal(budget_usd=5.0)
    await limiter.account(who, finished(who, cost=1.25))
    await limiter.account(who, finished(who, cost=0.000_000_000_1))
    assert js.buckets[SPEND_BUCKET].value("key.key-1.nusd.m202603") == 1_250_000_001


async def test_spend_counted_in_micro_dollars_before_the_upgrade_still_counts_against_the_budget(
    js: MemoryJetStream, clock: type[FrozenClock]
) -> None:
    limiter, who = gateway(js), principal(budget_usd=1.0)
    await limiter.account(who, finished(who, cost=0.4))
    await js.buckets[SPEND_BUCKET].create("key.key-1.usd.m202603", b"600000")  # an older gateway's counter
    assert await admitted(limiter, who) is ErrorCode.BUDGET_EXCEEDED


async def test_a_request_without_tokens_or_cost_writes_nothing(js: MemoryJetStream, clock: type[FrozenClock]) -> None:
    limiter, who = gateway(js), principal(tpm=100, budget_usd=5.0)
    await limiter.account(who, finished(who))
    assert js.buckets[RATE_BUCKET].entries == {}
    assert js.buckets[SPEND_BUCKET].entries == {}


@pytest.mark.parametrize(
    ("cost", "nano"), [(1.35e-6, 1350), (0.1, 100_000_000), (2e-10, 1), (3.0000001, 3_000_000_100)]
)
def test_a_budget_charge_counts_a_cost_in_whole_nano_dollars(cost: float, nano: int) -> None:
    assert nano_usd(cost) == nano
