"""The inference use case: plan -> (reveal key -> call adapter) per attempt -> result + record.

Failover happens only before anything reached the client: a non-streaming call may move to the
next target on a retryable error; a stream may move on until its first chunk arrived (the first
chunk is read here, before the response starts). A 400-class error caused by the request itself
stops at once instead of cascading through every fallback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.activity import Attempt
from shared.messages.catalog import ApiKeyPrincipal, IntegrationReport, RouteTarget

from gateway.catalog_client import CatalogClient
from gateway.keyvault_client import KeyvaultClient
from gateway.providers.base import CallOptions, ChatStream, Credential, ProviderAdapter, ProviderError, Target
from gateway.recorder import RequestRecord
from gateway.routing.resolve import Plan, merge_fallbacks, resolve
from gateway.settings import GatewaySettings

log = get_logger("keyrelay.gateway.proxy")
R = TypeVar("R")
Call = Callable[[ProviderAdapter, dict[str, Any], Target, Credential, CallOptions], Awaitable[R]]

REPORT_INTERVAL_S = 30.0
_ERROR_CLASS = {
    "upstream_auth_failed": "auth",
    "upstream_rate_limited": "rate_limit",
    "upstream_timeout": "timeout",
    "upstream_error": "server",
    "upstream_overloaded": "server",
}


class Proxy:
    def __init__(
        self,
        catalog: CatalogClient,
        keyvault: KeyvaultClient,
        adapters: dict[str, ProviderAdapter],
        settings: GatewaySettings,
    ) -> None:
        self.catalog = catalog
        self.keyvault = keyvault
        self.adapters = adapters
        self.settings = settings
        self._background: set[asyncio.Task[None]] = set()
        self._reported: dict[str, tuple[str | None, float]] = {}

    async def plan(self, principal: ApiKeyPrincipal, body: dict[str, Any], pin_slug: str | None) -> Plan:
        snapshot = await self.catalog.snapshot(principal.org_id, principal.project_id)
        plan = resolve(snapshot, principal, body.get("model"), pin_slug=pin_slug)  # type: ignore[arg-type]
        extra = body.get("models")
        if extra is not None:
            if not isinstance(extra, list) or len(extra) > 8 or not all(isinstance(x, str) for x in extra):
                raise KeyrelayError("invalid_request", "models must be a list of up to 8 model strings", param="models")
            plan = merge_fallbacks(plan, [resolve(snapshot, principal, name, pin_slug=pin_slug) for name in extra])
        return plan

    def options(self, *, include_usage: bool = True) -> CallOptions:
        return CallOptions(
            timeout_s=self.settings.upstream_timeout_s,
            first_byte_timeout_s=self.settings.upstream_first_byte_timeout_s,
            include_usage=include_usage,
        )

    async def run(self, record: RequestRecord, plan: Plan, body: dict[str, Any], call: Call[R], opts: CallOptions) -> R:
        """Try each target in order; return the first success, or raise the last error (with attempts)."""
        last: KeyrelayError | None = None
        for target in plan.targets:
            started = time.perf_counter()
            try:
                upstream, credential = await self._prepare(record.principal, target)
                adapter = self.adapters.get(target.adapter)
                if adapter is None:
                    raise KeyrelayError("upstream_error", f"no adapter for {target.adapter}")
                result = await call(adapter, {**body, "model": target.model}, upstream, credential, opts)
            except ProviderError as exc:
                record.attempts.append(_attempt(target, exc.upstream_status or exc.status, exc.code, started))
                self._report(record.principal, target, exc.code)
                last = exc
                if not exc.retryable:
                    break
                continue
            record.attempts.append(_attempt(target, 200, None, started))
            record.served = target
            self._report(record.principal, target, None)
            return result
        assert last is not None  # noqa: S101 - a plan always has at least one target
        raise last

    async def _prepare(self, principal: ApiKeyPrincipal, target: RouteTarget) -> tuple[Target, Credential]:
        revealed = await self.keyvault.reveal(
            org_id=principal.org_id, project_id=principal.project_id, integration_id=target.integration_id
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

    def _report(self, principal: ApiKeyPrincipal, target: RouteTarget, error_code: str | None) -> None:
        """Tell catalog how real traffic went (status/last error), off the hot path and best effort."""
        error_class = _ERROR_CLASS.get(error_code or "")
        if error_code is not None and error_class is None:
            return
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


async def read_first_chunk(
    stream: ChatStream, iterator: AsyncIterator[dict[str, Any]], timeout_s: float
) -> dict[str, Any] | None:
    """Read the first chunk before the response starts, so a failure here can still fail over."""
    try:
        return await asyncio.wait_for(iterator.__anext__(), timeout=timeout_s)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        await stream.aclose()
        raise ProviderError("upstream_timeout", "upstream sent no first chunk in time") from None
    except BaseException:
        await stream.aclose()
        raise


def _attempt(target: RouteTarget, status: int, code: str | None, started: float) -> Attempt:
    return Attempt(
        integration=target.slug,
        model=target.model,
        provider=target.provider,
        status=status,
        error_code=code,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )
