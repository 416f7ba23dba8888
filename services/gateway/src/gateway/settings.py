"""Gateway settings (`KEYRELAY_*`)."""

from __future__ import annotations

from shared.secret import Secret
from shared.settings import CommonSettings


class GatewaySettings(CommonSettings, frozen=True, kw_only=True):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_workers: int = 0  # 0: one per usable core (affinity, cgroup CPU limit); `./run up`: half of them
    http_respawn_interval_s: float = 0.5
    provider_base_urls: dict[str, str] = {}
    upstream_allow: str = ""
    upstream_allow_http: bool = False
    gateway_signing_key: Secret = Secret("")  # base64 Ed25519 seed: signs decryption requests
    keyvault_public_key: str = ""  # base64 X25519: pinned keyvault identity
    key_cache_ttl_s: float = 60.0
    key_cache_size: int = 1024
    snapshot_ttl_s: float = 30.0
    principal_ttl_s: float = 30.0
    # stale-if-error: how long past its TTL a cached principal, routing snapshot or key keeps
    # answering while catalog or keyvault cannot be reached (0 turns it off)
    stale_grace_s: float = 300.0
    max_body_bytes: int = 20 * 1024 * 1024
    upstream_timeout_s: float = 120.0
    upstream_first_byte_timeout_s: float = 60.0
    upstream_connections: int = 512
    catalog_timeout_s: float = 2.0
    spool_dir: str = ""  # on-disk journal of unacknowledged events; default <data_dir>/spool/gateway
    spool_memory_events: int = 10_000  # activity events held in memory; the rest wait on disk
    # request records wait this long for others to share one JetStream message (0: send at once)
    publish_linger_ms: float = 50.0
    # admission control (0 = no bound): past either, inference requests get 503 `overloaded`
    max_inflight: int = 512  # inference requests served at once by one worker
    max_publish_backlog: int = 100_000  # activity events not yet acknowledged by JetStream
    breaker_threshold: int = 5
    breaker_window: int = 10
    breaker_cooldown_s: float = 10.0
    keyvault_timeout_s: float = 2.0
    # media jobs answered as a handle finish on their own (`gateway.job_sweeper`): how often each
    # replica looks at the pending ones (0 turns the background poller off), how many per look, the
    # backoff between polls of one job, and when the gateway gives a job up
    job_sweep_interval_s: float = 1.0
    job_sweep_batch: int = 100
    job_poll_first_s: float = 2.0
    job_poll_most_s: float = 60.0
    job_poll_timeout_s: float = 6 * 3600.0
