"""Prometheus counters of keyvault (outcomes only: no ids, no secrets)."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

REVEALS = Counter("keyrelay_keyvault_reveals_total", "Decryption requests by outcome", ["outcome"])
WRITES = Counter(
    "keyrelay_keyvault_writes_total", "Credential writes by operation and outcome", ["operation", "outcome"]
)
REWRAPS = Counter(
    "keyrelay_keyvault_rewraps_total", "Data keys re-wrapped under the primary KEK by outcome", ["outcome"]
)


def serve_metrics(host: str, port: int) -> None:
    """Expose /metrics when a port is configured (0 = off)."""
    if port:
        start_http_server(port, addr=host)
