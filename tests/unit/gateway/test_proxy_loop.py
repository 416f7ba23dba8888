"""The proxy's attempt loop: retry, fallback, circuit breakers, streams — with in-memory stand-ins.

The stand-ins replace the adapter, keyvault and catalog clients only to drive the loop; the
end-to-end tests (`tests/e2e/test_failover.py`) run the same loop against real parts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.keyvault_client import RevealedCredential
from gateway.providers.base import CallOptions, ChatResult, Credential, ProviderAdapter, ProviderError, Target
from gateway.proxy import Proxy, _backoff, read_first_chunk
from gateway.recorder import RequestRecord
from gateway.routing.breaker import CircuitBreakers
from gateway.routing.plan import Plan, Step
from gateway.settings import GatewaySettings
from shared.errors import ErrorCode
from shared.messages.catalog import ApiKeyPrincipal, IntegrationReport, RetryPolicy, RouteTarget
from shared.messages.usage import Usage

PRINCIPAL = ApiKeyPrincipal(api_key_id="key", org_id="org", project_id="prj")
OK = "ok"
Outcome = str | ProviderError | float  # "ok", an error to raise, or seconds to wait before "ok"


def failure(code: ErrorCode, upstream_status: int = 0, retry_after: float | None = None) -> ProviderError:
    return ProviderError(code, f"fake: {code}", upstream_status=upstream_status, retry_after=retry_after)


UNAVAILABLE = failure(ErrorCode.UPSTREAM_OVERLOADED, 503)
RATE_LIMITED = failure(ErrorCode.UPSTREAM_RATE_LIMITED, 429)
TOO_LONG = failure(ErrorCode.CONTEXT_LENGTH_EXCEEDED, 400)


class FakeStream:
    def __init__(self, items: list[dict[str, Any] | ProviderError], first_delay_s: float = 0.0) -> None:
        self.headers: dict[str, str] = {}
        self.usage: Usage | None = None
        self.items = items
        self.first_delay_s = first_delay_s
        self.closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        await asyncio.sleep(self.first_delay_s)
        for item in self.items:
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def aclose(self) -> None:
        self.closed = True


class FakeAdapter:
    """Answers per integration slug from a script; the last outcome repeats."""

    name = "fake"

    def __init__(self, **script: list[Outcome]) -> None:
        self.script = script
        self.calls: list[str] = []
        self.options: list[CallOptions] = []
        self.streams: dict[str, FakeStream] = {}

    async def _next(self, target: Target, opts: CallOptions) -> None:
        self.calls.append(target.slug)
        self.options.append(opts)
        outcomes = self.script.get(target.slug, [OK])
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if isinstance(outcome, ProviderError):
            raise outcome
        if isinstance(outcome, float):
            await asyncio.sleep(outcome)

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        await self._next(target, opts)
        return ChatResult(body={"served_by": target.slug, "model": body["model"]}, usage=Usage())

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> FakeStream:
        await self._next(target, opts)
        return self.streams[target.slug]


class FakeKeyvault:
    def __init__(self) -> None:
        self.reveals: list[str] = []

    async def reveal(
        self, *, org_id: str, project_id: str, integration_id: str, project_proof: bytes = b"", base_url: str = ""
    ) -> Any:
        self.reveals.append(integration_id)
        return RevealedCredential(credential=Credential(), base_url="http://127.0.0.1:9")


class FakeCatalog:
    def __init__(self) -> None:
        self.reports: list[IntegrationReport] = []

    async def report(self, report: IntegrationReport) -> None:
        self.reports.append(report)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def target(slug: str) -> RouteTarget:
    return RouteTarget(
        integration_id=f"int-{slug}", slug=slug, provider="fake", adapter="fake", base_url="http://x", model=f"m-{slug}"
    )


NO_WAIT = RetryPolicy(attempts=1, backoff_ms=0, max_backoff_ms=0)


def plan(*slugs: str, retry: RetryPolicy = NO_WAIT, fallback_on: frozenset[int] | None = None, **extra: Any) -> Plan:
    kwargs: dict[str, Any] = {} if fallback_on is None else {"fallback_on": fallback_on}
    return Plan(requested="x", steps=[Step(target=target(s), retry=retry, **kwargs) for s in slugs], **extra)


class Harness:
    def __init__(self, adapter: FakeAdapter, *, threshold: int = 3) -> None:
        self.adapter = adapter
        self.catalog = FakeCatalog()
        self.keyvault = FakeKeyvault()
        self.clock = Clock()
        self.breakers = CircuitBreakers(threshold=threshold, window=threshold, cooldown_s=10, clock=self.clock)
        adapters: dict[str, ProviderAdapter] = {"fake": adapter}  # type: ignore[dict-item]
        self.proxy = Proxy(self.catalog, self.keyvault, adapters, GatewaySettings(), self.breakers)  # type: ignore[arg-type]
        self.record = RequestRecord(request_id="req", principal=PRINCIPAL, endpoint="chat")

    async def chat(self, p: Plan) -> ChatResult:
        self.record = RequestRecord(request_id="req", principal=PRINCIPAL, endpoint="chat")

        async def call(
            adapter: ProviderAdapter, body: dict[str, Any], upstream: Target, cred: Credential, opts: CallOptions
        ) -> ChatResult:
            return await adapter.chat(body, upstream, cred, opts)

        return await self.proxy.run(self.record, p, {"model": "x"}, call, self.proxy.options())

    async def stream(self, p: Plan) -> tuple[FakeStream, AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
        self.record = RequestRecord(request_id="req", principal=PRINCIPAL, endpoint="chat")

        async def call(
            adapter: ProviderAdapter, body: dict[str, Any], upstream: Target, cred: Credential, opts: CallOptions
        ) -> tuple[FakeStream, AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
            stream = await adapter.open_stream(body, upstream, cred, opts)
            iterator = stream.__aiter__()
            first = await read_first_chunk(stream, iterator, opts.first_byte_timeout_s)
            return stream, iterator, first  # type: ignore[return-value]

        return await self.proxy.run(self.record, p, {"model": "x"}, call, self.proxy.options())

    def attempts(self) -> list[tuple[str, int, str | None]]:
        return [(a.integration, a.status, a.error_code) for a in self.record.attempts]


# --- success and retry ------------------------------------------------------------------------------
async def test_the_first_step_that_answers_serves_the_request_and_is_recorded() -> None:
    h = Harness(FakeAdapter())
    result = await h.chat(plan("a", "b"))
    assert result.body == {"served_by": "a", "model": "m-a"}
    assert h.attempts() == [("a", 200, None)]
    assert h.record.served is not None
    assert h.record.served.slug == "a"
    assert h.keyvault.reveals == ["int-a"]


async def test_a_retryable_failure_is_retried_on_the_same_target_as_its_policy_allows() -> None:
    h = Harness(FakeAdapter(a=[UNAVAILABLE, UNAVAILABLE, OK]))
    result = await h.chat(plan("a", "b", retry=RetryPolicy(attempts=3, backoff_ms=0)))
    assert result.body["served_by"] == "a"
    assert h.adapter.calls == ["a", "a", "a"]
    assert h.attempts() == [("a", 503, "upstream_overloaded"), ("a", 503, "upstream_overloaded"), ("a", 200, None)]


async def test_after_the_policys_last_attempt_the_next_step_is_tried() -> None:
    h = Harness(FakeAdapter(a=[UNAVAILABLE]))
    result = await h.chat(plan("a", "b", retry=RetryPolicy(attempts=2, backoff_ms=0)))
    assert result.body["served_by"] == "b"
    assert h.adapter.calls == ["a", "a", "b"]


async def test_a_status_the_retry_policy_does_not_list_is_not_retried() -> None:
    h = Harness(FakeAdapter(a=[RATE_LIMITED]))
    await h.chat(plan("a", "b", retry=RetryPolicy(attempts=3, backoff_ms=0, on_status_codes=[503])))
    assert h.adapter.calls == ["a", "b"]


async def test_a_code_that_is_not_retryable_is_not_retried_even_when_its_status_is_listed() -> None:
    quota = failure(ErrorCode.UPSTREAM_INSUFFICIENT_QUOTA, 429)
    h = Harness(FakeAdapter(a=[quota]))
    result = await h.chat(plan("a", "b", retry=RetryPolicy(attempts=3, backoff_ms=0, on_status_codes=[429])))
    assert result.body["served_by"] == "b"
    assert h.adapter.calls == ["a", "b"]


# --- fallback ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        UNAVAILABLE,
        RATE_LIMITED,
        failure(ErrorCode.UPSTREAM_ERROR),  # connection reset: no upstream status, matches as 502
        failure(ErrorCode.UPSTREAM_TIMEOUT),  # no answer in time: matches as 408
        failure(ErrorCode.UPSTREAM_AUTH_FAILED, 401),
        failure(ErrorCode.MODEL_NOT_FOUND, 404),  # the model is not deployed there
    ],
)
async def test_upstream_faults_and_credential_problems_fall_back_by_default(error: ProviderError) -> None:
    h = Harness(FakeAdapter(a=[error]))
    result = await h.chat(plan("a", "b"))
    assert result.body["served_by"] == "b"
    assert [code for _, _, code in h.attempts()] == [error.code, None]


@pytest.mark.parametrize(
    "error",
    [
        TOO_LONG,
        failure(ErrorCode.CONTENT_FILTERED, 400),
        failure(ErrorCode.UPSTREAM_BAD_REQUEST, 400),
        failure(ErrorCode.UPSTREAM_INSUFFICIENT_QUOTA, 402),
    ],
)
async def test_an_error_outside_the_default_fallback_statuses_stops_at_once(error: ProviderError) -> None:
    h = Harness(FakeAdapter(a=[error]))
    with pytest.raises(ProviderError) as caught:
        await h.chat(plan("a", "b", retry=RetryPolicy(attempts=3, backoff_ms=0)))
    assert caught.value is error
    assert h.adapter.calls == ["a"]


async def test_a_request_error_never_falls_back_even_when_the_config_lists_its_status() -> None:
    h = Harness(FakeAdapter(a=[TOO_LONG]))
    with pytest.raises(ProviderError) as caught:
        await h.chat(plan("a", "b", fallback_on=frozenset({400})))
    assert caught.value.code is ErrorCode.CONTEXT_LENGTH_EXCEEDED
    assert h.adapter.calls == ["a"]


async def test_a_refused_request_falls_back_when_the_config_lists_its_status() -> None:
    h = Harness(FakeAdapter(a=[failure(ErrorCode.UPSTREAM_BAD_REQUEST, 400)]))
    result = await h.chat(plan("a", "b", fallback_on=frozenset({400})))
    assert result.body["served_by"] == "b"


async def test_a_status_the_steps_fallback_on_does_not_list_goes_back_to_the_client() -> None:
    h = Harness(FakeAdapter(a=[RATE_LIMITED]))
    with pytest.raises(ProviderError) as caught:
        await h.chat(plan("a", "b", fallback_on=frozenset({503})))
    assert caught.value.code is ErrorCode.UPSTREAM_RATE_LIMITED
    assert h.adapter.calls == ["a"]


async def test_a_timeout_without_an_upstream_status_matches_policies_as_408() -> None:
    timeout = failure(ErrorCode.UPSTREAM_TIMEOUT)
    h = Harness(FakeAdapter(a=[timeout]))
    await h.chat(plan("a", "b", retry=RetryPolicy(attempts=2, backoff_ms=0, on_status_codes=[408])))
    assert h.adapter.calls == ["a", "a", "b"]
    assert h.attempts()[0] == ("a", 504, "upstream_timeout")  # recorded with the code's own status


async def test_when_every_step_fails_the_last_error_goes_back_to_the_client() -> None:
    last = failure(ErrorCode.UPSTREAM_ERROR, 500)
    h = Harness(FakeAdapter(a=[UNAVAILABLE], b=[last]))
    with pytest.raises(ProviderError) as caught:
        await h.chat(plan("a", "b"))
    assert caught.value is last
    assert h.attempts() == [("a", 503, "upstream_overloaded"), ("b", 500, "upstream_error")]


async def test_a_target_without_an_adapter_in_this_gateway_is_an_upstream_error_that_falls_back() -> None:
    h = Harness(FakeAdapter())
    p = plan("b")
    stray = RouteTarget(integration_id="int-z", slug="z", provider="p", adapter="none", base_url="http://x", model="m")
    p.steps.insert(0, Step(target=stray))
    result = await h.chat(p)
    assert result.body["served_by"] == "b"
    assert h.attempts()[0] == ("z", 502, "upstream_error")


# --- deadlines and backoff --------------------------------------------------------------------------
async def test_each_attempts_timeouts_are_capped_by_the_requests_remaining_total_timeout() -> None:
    h = Harness(FakeAdapter())
    await h.chat(plan("a", total_timeout_s=2.0))
    opts = h.adapter.options[0]
    assert opts.timeout_s <= 2.0
    assert opts.first_byte_timeout_s <= 2.0


async def test_no_further_step_starts_once_the_total_timeout_has_passed() -> None:

    class SlowFailing(FakeAdapter):
        async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
            if target.slug == "a":
                self.calls.append("a")
                await asyncio.sleep(0.05)
                raise UNAVAILABLE
            return await super().chat(body, target, cred, opts)

    h = Harness(SlowFailing())
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await h.chat(plan("a", "b", total_timeout_s=0.02))
    assert caught.value is UNAVAILABLE
    assert h.adapter.calls == ["a"]
    assert time.monotonic() - started < 1


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    step = Step(target=target("a"), retry=RetryPolicy(attempts=5, backoff_ms=100, max_backoff_ms=300))
    error = failure(ErrorCode.UPSTREAM_OVERLOADED, 503)
    assert [_backoff(step, n, error, None) for n in range(4)] == [0.1, 0.2, 0.3, 0.3]


def test_a_providers_retry_after_wins_over_backoff_but_is_capped() -> None:
    step = Step(target=target("a"), retry=RetryPolicy(backoff_ms=100, max_retry_after_ms=2000))
    assert _backoff(step, 0, failure(ErrorCode.UPSTREAM_RATE_LIMITED, 429, retry_after=1.5), None) == 1.5
    assert _backoff(step, 0, failure(ErrorCode.UPSTREAM_RATE_LIMITED, 429, retry_after=60), None) == 2.0


def test_retry_after_is_ignored_when_the_policy_says_so() -> None:
    step = Step(target=target("a"), retry=RetryPolicy(backoff_ms=100, respect_retry_after=False))
    assert _backoff(step, 0, failure(ErrorCode.UPSTREAM_RATE_LIMITED, 429, retry_after=5), None) == 0.1


def test_backoff_never_sleeps_past_the_requests_deadline() -> None:
    step = Step(target=target("a"), retry=RetryPolicy(backoff_ms=5000, max_backoff_ms=5000))
    assert _backoff(step, 0, UNAVAILABLE, time.monotonic() + 0.5) <= 0.5
    assert _backoff(step, 0, UNAVAILABLE, time.monotonic() - 1) == 0.0


# --- circuit breakers -------------------------------------------------------------------------------
async def test_server_faults_count_against_the_targets_circuit_and_request_errors_do_not() -> None:
    h = Harness(FakeAdapter(a=[TOO_LONG]), threshold=2)
    for _ in range(3):
        with pytest.raises(ProviderError):
            await h.chat(plan("a"))
    assert h.breakers.state("int-a") == "closed"
    h.adapter.script["a"] = [UNAVAILABLE]
    for _ in range(2):
        with pytest.raises(ProviderError):
            await h.chat(plan("a"))
    assert h.breakers.state("int-a") == "open"


async def test_a_rate_limit_does_not_open_the_circuit() -> None:
    h = Harness(FakeAdapter(a=[RATE_LIMITED]), threshold=2)
    for _ in range(3):
        await h.chat(plan("a", "b"))
    assert h.breakers.state("int-a") == "closed"


async def test_a_target_whose_circuit_is_open_is_skipped_while_another_is_left() -> None:
    h = Harness(FakeAdapter(a=[UNAVAILABLE]), threshold=2)
    for _ in range(2):
        await h.chat(plan("a", "b"))
    h.adapter.calls.clear()
    result = await h.chat(plan("a", "b"))
    assert result.body["served_by"] == "b"
    assert h.adapter.calls == ["b"]


async def test_when_every_circuit_is_open_the_targets_are_tried_anyway() -> None:
    h = Harness(FakeAdapter(a=[UNAVAILABLE, UNAVAILABLE, OK]), threshold=2)
    for _ in range(2):
        with pytest.raises(ProviderError):
            await h.chat(plan("a"))
    assert h.breakers.state("int-a") == "open"
    result = await h.chat(plan("a"))
    assert result.body["served_by"] == "a"
    assert h.breakers.state("int-a") == "closed"


async def test_after_the_cooldown_one_probe_goes_to_the_recovered_target() -> None:
    h = Harness(FakeAdapter(a=[UNAVAILABLE, UNAVAILABLE, OK]), threshold=2)
    for _ in range(2):
        await h.chat(plan("a", "b"))
    h.clock.now += 10
    h.adapter.calls.clear()
    result = await h.chat(plan("a", "b"))
    assert result.body["served_by"] == "a"
    assert h.breakers.state("int-a") == "closed"


# --- integration health reports ---------------------------------------------------------------------
async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        (failure(ErrorCode.UPSTREAM_AUTH_FAILED, 401), "auth"),
        (RATE_LIMITED, "rate_limit"),
        (UNAVAILABLE, "server"),
        (failure(ErrorCode.UPSTREAM_TIMEOUT), "timeout"),
    ],
)
async def test_a_failed_attempt_reports_what_it_says_about_the_integrations_health(
    error: ProviderError, error_class: str
) -> None:
    h = Harness(FakeAdapter(a=[error]))
    await h.chat(plan("a", "b"))
    await _settle()
    assert [(r.integration_id, r.ok, r.error_class) for r in h.catalog.reports] == [
        ("int-a", False, error_class),
        ("int-b", True, None),
    ]


async def test_a_request_error_says_nothing_about_the_integrations_health() -> None:
    h = Harness(FakeAdapter(a=[TOO_LONG]))
    with pytest.raises(ProviderError):
        await h.chat(plan("a"))
    await _settle()
    assert h.catalog.reports == []


async def test_an_unchanged_health_is_reported_once_not_on_every_request() -> None:
    h = Harness(FakeAdapter())
    for _ in range(5):
        await h.chat(plan("a"))
    await _settle()
    assert len(h.catalog.reports) == 1


# --- streams ----------------------------------------------------------------------------------------
async def test_a_stream_that_fails_before_its_first_chunk_moves_to_the_next_step() -> None:
    adapter = FakeAdapter()
    adapter.streams = {"a": FakeStream([UNAVAILABLE]), "b": FakeStream([{"n": 1}, {"n": 2}])}
    h = Harness(adapter)
    stream, _, first = await h.stream(plan("a", "b"))
    assert first == {"n": 1}
    assert stream is adapter.streams["b"]
    assert adapter.streams["a"].closed
    assert h.attempts() == [("a", 503, "upstream_overloaded"), ("b", 200, None)]


async def test_a_stream_whose_first_chunk_does_not_come_in_time_moves_on() -> None:
    adapter = FakeAdapter()
    adapter.streams = {"a": FakeStream([{"n": 1}], first_delay_s=5), "b": FakeStream([{"n": 2}])}
    h = Harness(adapter)
    started = time.monotonic()
    stream, _, first = await h.stream(_with_first_byte(plan("a", "b")))
    assert time.monotonic() - started < 2
    assert (stream, first) == (adapter.streams["b"], {"n": 2})
    assert h.attempts()[0][2] == "upstream_timeout"
    assert adapter.streams["a"].closed


def _with_first_byte(p: Plan, seconds: float = 0.05) -> Plan:
    p.steps = [Step(target=s.target, retry=s.retry, first_byte_timeout_s=seconds) for s in p.steps]
    return p


async def test_a_stream_that_fails_after_its_first_chunk_does_not_fail_over() -> None:
    adapter = FakeAdapter()
    adapter.streams = {"a": FakeStream([{"n": 1}, UNAVAILABLE]), "b": FakeStream([{"n": 2}])}
    h = Harness(adapter)
    stream, rest, first = await h.stream(plan("a", "b"))
    assert first == {"n": 1}
    assert stream is adapter.streams["a"]
    assert adapter.calls == ["a"]  # the first chunk was read: a later failure belongs to the relay
    with pytest.raises(ProviderError):
        await anext(rest)
