"""`keyrelay serve keyvault` / `python -m keyvault`: refuses weak key material (exit status 2)."""

from __future__ import annotations

from keyvault.app import lifespan
from keyvault.settings import KeyvaultSettings
from shared.runner import run, start


def serve(settings: KeyvaultSettings) -> None:
    run("keyvault", lambda: lifespan(settings))


def main() -> None:
    start("keyvault", KeyvaultSettings, serve)
