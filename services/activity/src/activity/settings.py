"""Activity settings (`KEYRELAY_*`)."""

from __future__ import annotations

from shared.settings import CommonSettings


class ActivitySettings(CommonSettings, frozen=True, kw_only=True):
    activity_db: str = "keyrelay_activity"
    max_deliveries: int = 5
    batch_size: int = 100  # JetStream messages fetched, and written together, at most
    # a write of fewer than `write_records` records waits up to `write_fill_ms` for more (0: never)
    write_records: int = 200
    write_fill_ms: float = 50.0
    retention_days: int = 90
