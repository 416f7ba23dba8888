"""`keyrelay serve activity` / `python -m activity`."""

from __future__ import annotations

from activity.app import lifespan
from activity.settings import ActivitySettings
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import load_settings


def main() -> None:
    settings = load_settings(ActivitySettings)
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="activity")
    run("activity", lambda: lifespan(settings))  # type: ignore[arg-type,return-value]
