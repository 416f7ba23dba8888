"""Prometheus metrics: each service declares its own metrics; this module serves them.

The gateway serves `/metrics` on its HTTP port; the other services, which have no HTTP server,
serve it on `KEYRELAY_METRICS_PORT` (0 disables it).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server

from shared.logging import get_logger

log = get_logger("keyrelay.metrics")


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(port: int, host: str = "127.0.0.1") -> None:
    if port > 0:
        start_http_server(port, addr=host)
        log.info("metrics.serving", port=port)
