"""Activity settings (`KEYRELAY_*`)."""

from __future__ import annotations

from shared.settings import CommonSettings


class ActivitySettings(CommonSettings, frozen=True, kw_only=True):
    activity_db: str = "keyrelay_activity"
    max_deliveries: int = 5
    batch_size: int = 100
    retention_days: int = 90
    # Fault injection for the durability tests only: exit hard after this many stored batches,
    # after the MongoDB write and before the acknowledgement (0 = never).
    test_crash_after_writes: int = 0
