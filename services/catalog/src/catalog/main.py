"""`keyrelay serve catalog` / `python -m catalog`."""

from __future__ import annotations

from catalog.app import lifespan
from catalog.settings import CatalogSettings
from shared.runner import run, start


def serve(settings: CatalogSettings) -> None:
    run("catalog", lambda: lifespan(settings))


def main() -> None:
    start("catalog", CatalogSettings, serve)
