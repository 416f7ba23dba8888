"""`keyrelay serve activity` / `python -m activity`."""

from __future__ import annotations

from activity.app import lifespan
from activity.settings import ActivitySettings
from shared.runner import run, start


def serve(settings: ActivitySettings) -> None:
    run("activity", lambda: lifespan(settings))


def main() -> None:
    start("activity", ActivitySettings, serve)
