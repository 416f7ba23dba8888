"""Activity settings (`KEYRELAY_*`)."""

from __future__ import annotations

from shared.settings import CommonSettings


class ActivitySettings(CommonSettings, frozen=True, kw_only=True):
    activity_db: str = "keyrelay_activity"
    max_deliveries: int = 5
    batch_size: int = 100
    retention_days: int = 90
