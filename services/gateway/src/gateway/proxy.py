"""The inference use case: plan -> (reveal key -> call adapter) per attempt -> result + record.

Failover happens only before anything reached the client: a non-streaming call may move to the
next target on an upstream failure; a stream may move on until its first chunk arrived (the first
chunk is read here, before the response starts). An error caused by the request itself stops at
once instead of cascading through every fallback. What each error code allows (retry, fallback,
counting against the circuit breaker, the integration health it reports) is the code's own data
(`shared.errors.ErrorCode`); the step's policy adds the statuses it retries and falls back on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from gateway.catalog_client import CatalogClient
from gateway.keyvault_client import KeyvaultClient
from gateway.providers.base import CallOptions, Credential, ProviderAdapter, ProviderError, Target, UpstreamStream
from gateway.recorder import RequestRecord
from gateway.routing.breaker import CircuitBreakers
from gateway.routing.plan import Plan, Step
from gateway.routing.resolve import merge_fallbacks, resolve
from gateway.settings import GatewaySettings
from shared.errors import ErrorCode, KeyrelayError
from shared.logging import get_logger
from shared.messages.activity import Attempt
from shared.messages.catalog import ApiKeyPrincipal, IntegrationReport, RouteTarget

log = get_logger("keyrelay.gateway.proxy")
R = TypeVar("R")
T = TypeVar("T")
Call = Callable[[ProviderAdapter, dict[str, Any], Target, Credential, CallOptions], Awaitable[R]]

REPORT_INTERVAL_S = 30.0


class Proxy:
    def __init__(
        self,
        catalog: CatalogClient,
        keyvault: KeyvaultClient,
        adapters: dict[str, ProviderAdapter],
        settings: GatewaySettings,
        breakers: CircuitBreakers | None = None,
    ) -> None:
        self.catalog = catalog
        self.keyvault = keyvault
        self.adapters = adapters
        self.settings = settings
        self.breakers = breakers or CircuitBreakers(
            threshold=settings.breaker_threshold, window=settings.breaker_window, cooldown_s=settings.breaker_cooldown_s
        )
        self._background: set[asyncio.Task[None]] = set()
        self._reported: dict[str, tuple[str | None, float]] = {}

    async def plan(self, principal: ApiKeyPrincipal, body: dict[str, Any], headers: Mapping[str, str]) -> Plan:
        snapshot = await self.catalog.snapshot(principal.org_id, principal.project_id)
        pin = headers.get("x-keyrelay-integration") or None
        config = headers.get("x-keyrelay-config") or None
        plan = resolve(snapshot, principal, body.get("model"), body=body, pin_slug=pin, config_name=config)
        extra = body.get("models")
        if extra is not None:
            if not isinstance(extra, list) or len(extra) > 8 or not all(isinstance(x, str) for x in extra):
                raise KeyrelayError(
                    ErrorCode.INVALID_REQUEST, "models must be a list of up to 8 model strings", param="models"
                )
            plan = merge_fallbacks(
                plan, [resolve(snapshot, principal, name, body=body, pin_slug=pin) for name in extra]
            )
        return plan

    def options(self, *, include_usage: bool = True) -> CallOptions:
        return CallOptions(
            timeout_s=self.settings.upstream_timeout_s,
            first_byte_timeout_s=self.settings.upstream_first_byte_timeout_s,
            include_usage=include_usage,
        )

    async def run(self, record: RequestRecord, plan: Plan, body: dict[str, Any], call: Call[R], opts: CallOptions) -> R:
        """Try each step (retrying it as its policy says) until one succeeds.

        Retries a step only on a retryable code whose status its retry policy lists. Moves to the
        next step only on a code that may fall back and whose status the step's `fallback_on` lists
        (by default: upstream faults and credential problems, never a request the provider refused
        as malformed); skips integrations whose circuit is open unless nothing else is left.
        """
        record.virtual_model = plan.virtual_model
        record.config, record.config_version = plan.config, plan.config_version
        deadline = time.monotonic() + plan.total_timeout_s if plan.total_timeout_s else None
        steps = self._order_by_breaker(plan.steps)
        last: KeyrelayError | None = None
        for step in steps:
            for attempt in range(max(1, step.retry.attempts)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise last or ProviderError(ErrorCode.UPSTREAM_TIMEOUT, "the request's total timeout passed")
                try:
                    return await self._attempt(record, step, body, call, _options(opts, step, remaining))
                except ProviderError as exc:
                    last = exc
                    status = _status_of(exc)
                    if attempt + 1 < step.retry.attempts and exc.retryable and status in step.retry.on_status_codes:
                        await asyncio.sleep(_backoff(step, attempt, exc, deadline))
                        continue
                    if not (exc.code.fallback and status in step.fallback_on):
                        raise
                    break
        assert last is not None  # noqa: S101 - a plan always has at least one step
        raise last

    def _order_by_breaker(self, steps: list[Step]) -> list[Step]:
        allowed = [s for s in steps if self.breakers.allow(s.target.integration_id)]
        return allowed or steps  # every circuit open: try anyway rather than fail without trying

    async def _attempt(
        self, record: RequestRecord, step: Step, body: dict[str, Any], call: Call[R], opts: CallOptions
    ) -> R:
        target = step.target
        started = time.perf_counter()
        since = self.breakers.now()
        try:
            upstream, credential = await self.prepare(record.principal, target)
            result = await call(self._adapter(target), {**body, "model": target.model}, upstream, credential, opts)
        except ProviderError as exc:
            record.attempts.append(_attempt(target, exc.upstream_status or exc.status, exc.code, started))
            if exc.code.breaker:
                self.breakers.failure(target.integration_id, started=since)
            else:
                self.breakers.success(target.integration_id, started=since)
            self._report(record.principal, target, exc.code)
            raise
        record.attempts.append(_attempt(target, 200, None, started))
        record.served = target
        self.breakers.success(target.integration_id, started=since)
        self._report(record.principal, target, None)
        return result

    def _adapter(self, target: RouteTarget) -> ProviderAdapter:
        adapter = self.adapters.get(target.adapter)
        if adapter is None:
            raise ProviderError(ErrorCode.UPSTREAM_ERROR, f"no adapter for {target.adapter} in this gateway")
        return adapter

    async def prepare(self, principal: ApiKeyPrincipal, target: RouteTarget) -> tuple[Target, Credential]:
        revealed = await self.keyvault.reveal(
            org_id=principal.org_id,
            project_id=principal.project_id,
            integration_id=target.integration_id,
            project_proof=principal.project_proof,
            base_url=target.base_url if target.own_host else "",
        )
        upstream = Target(
            adapter=target.adapter,
            provider=target.provider,
            base_url=revealed.base_url,
            model=target.model,
            integration_id=target.integration_id,
            slug=target.slug,
            options=target.options,
        )
        return upstream, revealed.credential

    def _report(self, principal: ApiKeyPrincipal, target: RouteTarget, error_code: ErrorCode | None) -> None:
        """Tell catalog how real traffic went (status/last error), off the hot path and best effort."""
        error_class = None if error_code is None else error_code.health
        if error_code is not None and error_class is None:
            return  # the request's fault, or a quota: says nothing about the integration's health
        # Only a change of state, or a heartbeat every 30 s, is worth a message: not every request.
        now = time.monotonic()
        last = self._reported.get(target.integration_id)
        if last is not None and last[0] == error_class and now - last[1] < REPORT_INTERVAL_S:
            return
        self._reported[target.integration_id] = (error_class, now)
        report = IntegrationReport(
            org_id=principal.org_id,
            integration_id=target.integration_id,
            ok=error_code is None,
            error_class=error_class,
        )
        task = asyncio.create_task(self._send_report(report))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_report(self, report: IntegrationReport) -> None:
        try:
            await self.catalog.report(report)
        except Exception as exc:
            log.debug("proxy.report_failed", error=type(exc).__name__)


async def read_first_chunk(stream: UpstreamStream[T], iterator: AsyncIterator[T], timeout_s: float) -> T | None:
    """Read the first chunk before the response starts, so a failure here can still fail over."""
    try:
        async with asyncio.timeout(timeout_s):  # inline in this task: no extra task per stream
            return await anext(iterator)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        await stream.aclose()
        raise ProviderError(ErrorCode.UPSTREAM_TIMEOUT, "upstream sent no first chunk in time") from None
    except BaseException:
        await stream.aclose()
        raise


def _status_of(exc: ProviderError) -> int:
    """The status retry and fallback policies match: the upstream's, else the code's own; an attempt
    that timed out without an answer matches as 408 (Request Timeout), like an upstream that said so."""
    if exc.upstream_status:
        return exc.upstream_status
    return 408 if exc.code is ErrorCode.UPSTREAM_TIMEOUT else exc.status


def _options(base: CallOptions, step: Step, remaining: float | None) -> CallOptions:
    timeout = step.timeout_s or base.timeout_s
    first = step.first_byte_timeout_s or base.first_byte_timeout_s
    if remaining is not None:
        timeout, first = min(timeout, remaining), min(first, remaining)
    return dataclasses.replace(base, timeout_s=timeout, first_byte_timeout_s=first)


def _backoff(step: Step, attempt: int, exc: ProviderError, deadline: float | None) -> float:
    """Exponential backoff; a provider's `retry-after` wins when allowed, capped either way."""
    delay = min(step.retry.backoff_ms * (2**attempt), step.retry.max_backoff_ms) / 1000
    if step.retry.respect_retry_after and exc.retry_after is not None:
        delay = min(float(exc.retry_after), step.retry.max_retry_after_ms / 1000)
    if deadline is not None:
        delay = min(delay, max(0.0, deadline - time.monotonic()))
    return float(max(0.0, delay))


def _attempt(target: RouteTarget, status: int, code: str | None, started: float) -> Attempt:
    return Attempt(
        integration=target.slug,
        model=target.model,
        provider=target.provider,
        status=status,
        error_code=code,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )
