"""Rate limits and budgets, enforced across every gateway replica through NATS JetStream KV.

* RPM: a counter per (scope, minute) is raised by compare-and-set *before* the request, so N
  replicas together let exactly N requests through in a minute, never N per replica.
* TPM and budgets: what was used so far is checked before the request, and the request's real
  usage (streamed requests included, once their usage arrived) is added after it; so traffic
  stops within one request of the limit.
Scopes are the API key and its project. Keys and projects without limits cost nothing here.
The buckets are provisioned by the operator (`shared.provision`); the gateway only binds to them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from shared.errors import DependencyUnavailable, ErrorCode, KeyrelayError
from shared.logging import get_logger
from shared.messages.activity import RequestFinished
from shared.messages.catalog import ApiKeyPrincipal
from shared.subjects import RATE_BUCKET, SPEND_BUCKET

log = get_logger("keyrelay.gateway.limits")
MICRO = 1_000_000  # the unit of `usd` counters written before nano-dollars (still read)
NANO = 1_000_000_000  # the unit of `nusd` spend counters
_CAS_TRIES = 20


@dataclass(frozen=True, slots=True)
class Scope:
    name: str  # "key" | "project"
    ident: str
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    budget_period: str | None


def scopes(principal: ApiKeyPrincipal) -> list[Scope]:
    out = []
    if principal.rpm or principal.tpm or principal.budget_usd is not None:
        out.append(
            Scope(
                "key", principal.api_key_id, principal.rpm, principal.tpm, principal.budget_usd, principal.budget_period
            )
        )
    if principal.project_rpm or principal.project_tpm or principal.project_budget_usd is not None:
        out.append(
            Scope(
                "project",
                principal.project_id,
                principal.project_rpm,
                principal.project_tpm,
                principal.project_budget_usd,
                principal.project_budget_period,
            )
        )
    return out


def period_key(period: str | None, now: datetime) -> str:
    if period == "day":
        return now.strftime("d%Y%m%d")
    if period == "week":
        year, week, _ = now.isocalendar()
        return f"w{year}{week:02d}"
    if period == "total":
        return "total"
    return now.strftime("m%Y%m")


class Limits:
    def __init__(self, nc: NatsClient) -> None:
        self._js = nc.jetstream()
        self._rate: KeyValue | None = None
        self._spend: KeyValue | None = None
        self._lock = asyncio.Lock()

    async def _buckets(self) -> tuple[KeyValue, KeyValue]:
        if self._rate is None or self._spend is None:
            async with self._lock:
                if self._rate is None or self._spend is None:
                    self._rate = await self._bucket(RATE_BUCKET)
                    self._spend = await self._bucket(SPEND_BUCKET)
        return self._rate, self._spend

    async def _bucket(self, name: str) -> KeyValue:
        with contextlib.suppress(BucketNotFoundError, NotFoundError):
            return await self._js.key_value(name)
        log.error("limits.bucket_not_provisioned", bucket=name, hint="the operator runs `keyrelay provision`")
        raise KeyrelayError(ErrorCode.DEPENDENCY_UNAVAILABLE, "the rate limit store is not available")

    async def _get(self, kv: KeyValue, key: str) -> tuple[int, int | None]:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return 0, None
        return int(entry.value or b"0"), entry.revision

    async def _add(self, kv: KeyValue, key: str, amount: int, limit: int | None = None) -> bool:
        """Compare-and-set add; with `limit`, refuse (False) when the result would pass it."""
        for _ in range(_CAS_TRIES):
            value, revision = await self._get(kv, key)
            if limit is not None and value + amount > limit:
                return False
            with contextlib.suppress(KeyWrongLastSequenceError):
                if revision is None:
                    await kv.create(key, str(value + amount).encode())
                else:
                    await kv.update(key, str(value + amount).encode(), last=revision)
                return True
            await asyncio.sleep(0)
        raise KeyrelayError(ErrorCode.DEPENDENCY_UNAVAILABLE, "rate limit store is too contended, try again")

    async def admit(self, principal: ApiKeyPrincipal) -> None:
        """Before a request: raise `rate_limited` (429) or `budget_exceeded` (402), or let it pass.

        A store that does not answer (a JetStream timeout while a NATS node dies and its buckets
        elect a new leader, the connection lost) refuses the request with `dependency_unavailable`
        (503, worth retrying): limits fail closed, and never as an internal error.
        """
        try:
            await self._admit(principal)
        except NatsError as exc:
            log.warning("limits.store_unavailable", error=type(exc).__name__)
            raise DependencyUnavailable("the rate limit store did not answer") from exc

    async def _admit(self, principal: ApiKeyPrincipal) -> None:
        active = scopes(principal)
        if not active:
            return
        rate, spend = await self._buckets()
        now = datetime.now(UTC)
        minute = now.strftime("%Y%m%d%H%M")
        retry_after = 60 - now.second
        for scope in active:
            base = f"{scope.name}.{scope.ident}"
            if scope.budget_usd is not None:
                period = period_key(scope.budget_period, now)
                (nano, _), (micro, _) = await asyncio.gather(
                    self._get(spend, f"{base}.nusd.{period}"), self._get(spend, f"{base}.usd.{period}")
                )
                if nano + micro * (NANO // MICRO) >= scope.budget_usd * NANO:
                    raise KeyrelayError(
                        ErrorCode.BUDGET_EXCEEDED,
                        f"the {scope.name}'s budget of ${scope.budget_usd:g} "
                        f"per {scope.budget_period or 'month'} is used up",
                    )
            if scope.tpm:
                used, _ = await self._get(rate, f"{base}.tpm.{minute}")
                if used >= scope.tpm:
                    raise KeyrelayError(
                        ErrorCode.RATE_LIMITED,
                        f"the {scope.name}'s limit of {scope.tpm} tokens per minute is reached",
                        retry_after=retry_after,
                    )
        for scope in active:
            if scope.rpm and not await self._add(rate, f"{scope.name}.{scope.ident}.rpm.{minute}", 1, scope.rpm):
                raise KeyrelayError(
                    ErrorCode.RATE_LIMITED,
                    f"the {scope.name}'s limit of {scope.rpm} requests per minute is reached",
                    retry_after=retry_after,
                )

    async def account(self, principal: ApiKeyPrincipal, event: RequestFinished) -> None:
        """After a request: add its tokens and cost to every limited scope."""
        active = scopes(principal)
        if not active or (not event.usage.total_tokens and not event.cost_usd):
            return
        rate, spend = await self._buckets()
        now = datetime.now(UTC)
        minute = now.strftime("%Y%m%d%H%M")
        for scope in active:
            base = f"{scope.name}.{scope.ident}"
            if scope.tpm and event.usage.total_tokens:
                await self._add(rate, f"{base}.tpm.{minute}", event.usage.total_tokens)
            if scope.budget_usd is not None and event.cost_usd:
                await self._add(spend, f"{base}.nusd.{period_key(scope.budget_period, now)}", nano_usd(event.cost_usd))


__all__ = ["Limits", "Scope", "period_key", "scopes"]


def nano_usd(cost_usd: float) -> int:
    """A cost in whole nano-dollars, rounded to nearest: a request's cost (from about a
    micro-dollar up) is counted to within a thousandth, so a budget stops traffic within one
    request (micro-dollars were too coarse: $1.35e-6 counted as 1 or 2). Never below one."""
    return max(1, round(cost_usd * NANO))
