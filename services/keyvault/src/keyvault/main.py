"""`keyrelay serve keyvault` / `python -m keyvault`."""

from __future__ import annotations

from keyvault.app import lifespan
from keyvault.settings import KeyvaultSettings
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import load_settings


def main() -> None:
    settings = load_settings(KeyvaultSettings)
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="keyvault")
    run("keyvault", lambda: lifespan(settings))  # type: ignore[arg-type,return-value]
