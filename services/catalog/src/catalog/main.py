"""`keyrelay serve catalog` / `python -m catalog`."""

from __future__ import annotations

from catalog.app import lifespan
from catalog.settings import CatalogSettings
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import load_settings


def main() -> None:
    settings = load_settings(CatalogSettings)
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="catalog")
    run("catalog", lambda: lifespan(settings))  # type: ignore[arg-type,return-value]
