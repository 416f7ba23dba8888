"""Gateway metrics: requests by endpoint, integration and status; latency; upstream attempts;
cache hits; keyvault round trips; the activity publisher's spool."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.messages.activity import RequestFinished

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter(
    "keyrelay_gateway_requests_total", "Inference requests finished", ["endpoint", "integration", "status"]
)
LATENCY = Histogram("keyrelay_gateway_request_seconds", "Inference request latency", ["endpoint"], buckets=_BUCKETS)
TTFT = Histogram("keyrelay_gateway_ttft_seconds", "Time to first byte of the answer", ["endpoint"], buckets=_BUCKETS)
ATTEMPTS = Counter(
    "keyrelay_gateway_upstream_attempts_total", "Upstream attempts", ["integration", "provider", "outcome"]
)
UPSTREAM_LATENCY = Histogram(
    "keyrelay_gateway_upstream_seconds", "Upstream attempt latency", ["integration"], buckets=_BUCKETS
)

STALE_SERVED = Counter(
    "keyrelay_gateway_served_stale_total",
    "Answers from a cache entry past its TTL because its dependency was unreachable (stale-if-error)",
    ["cache"],
)
OVERLOAD_REFUSED = Counter(
    "keyrelay_gateway_overload_refused_total",
    "Inference requests refused with 503 overloaded before any work (in-flight or publish-backlog bound)",
    ["reason"],
)
AUTH_REFUSED = Counter(
    "keyrelay_gateway_auth_refused_total", "Requests refused for a missing or unknown API key (no activity record)"
)


# Each metric's child per label values, kept here: `labels()` validates, converts and takes the
# metric's lock on every call, and these run for every request (the children are never removed).
_children: dict[tuple[object, ...], Any] = {}


def _child(metric: Counter | Histogram, *values: str) -> Any:
    key = (metric, *values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


def observe(event: RequestFinished) -> None:
    _child(REQUESTS, event.endpoint, event.integration or "", str(event.status)).inc()
    _child(LATENCY, event.endpoint).observe(event.latency_ms / 1000)
    if event.ttft_ms is not None:
        _child(TTFT, event.endpoint).observe(event.ttft_ms / 1000)
    for attempt in event.attempts:
        _child(ATTEMPTS, attempt.integration, attempt.provider, attempt.error_code or "ok").inc()
        _child(UPSTREAM_LATENCY, attempt.integration).observe(attempt.latency_ms / 1000)


class StateCollector(Collector):
    """Reads live numbers (cache hits, keyvault round trips, spool depth) at scrape time."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, value in self._read().items():
            yield GaugeMetricFamily(f"keyrelay_gateway_{name}", name.replace("_", " "), value=value)


def register_state(read: Callable[[], dict[str, float]]) -> None:
    REGISTRY.register(StateCollector(read))
