"""`keyrelay serve keyvault` / `python -m keyvault`."""

from __future__ import annotations

import asyncio
import sys

from keyvault.app import run
from keyvault.settings import KeyvaultSettings
from shared.logging import configure_logging, get_logger
from shared.settings import SettingsError, load_settings

EXIT_BAD_SETTINGS = 2


def main() -> None:
    """Run keyvault; on unusable settings print why (never a value) and exit with status 2."""
    try:
        settings = load_settings(KeyvaultSettings)
        configure_logging(fmt=settings.log_format, level=settings.log_level, service="keyvault")
        asyncio.run(run(settings))
    except SettingsError as exc:
        get_logger("keyrelay.keyvault").error("keyvault.refusing_to_start", reason=str(exc))
        print(f"keyvault: refusing to start: {exc}", file=sys.stderr)  # noqa: T201 - the operator reads this
        sys.exit(EXIT_BAD_SETTINGS)
