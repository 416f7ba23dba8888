"""Prometheus metrics: each service declares its own metrics; this module serves them.

Every service, the gateway included, serves `/metrics` on its own listener
(`KEYRELAY_METRICS_HOST`, loopback by default, and `KEYRELAY_METRICS_PORT`; 0 disables it), never on
the gateway's public port: metric labels name integrations of every org.
"""

from __future__ import annotations

from prometheus_client import start_http_server

from shared.logging import get_logger

log = get_logger("keyrelay.metrics")


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Start the metrics listener in a thread; a port already taken (a second worker) is a warning."""
    if port <= 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("metrics.unavailable", host=host, port=port, error=str(exc))
        return
    log.info("metrics.serving", host=host, port=port)
