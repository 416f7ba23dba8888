"""Every service's entry point: settings, logging, then serve until SIGTERM/SIGINT and clean up.

Each `services/*/main.py` is one call: `start(name, settings type, serve)`, where `serve` runs the
service with its settings (the async services: `run(name, lambda: lifespan(settings))`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from shared.logging import configure_logging, get_logger
from shared.settings import CommonSettings, SettingsError, load_settings

log = get_logger("keyrelay.runner")
STOP_GRACE_S = 4.0
EXIT_BAD_SETTINGS = 2
S = TypeVar("S", bound=CommonSettings)
Lifespan = Callable[[], AbstractAsyncContextManager[object]]


def start(name: str, settings_type: type[S], serve: Callable[[S], None]) -> None:
    """Load the settings, configure logging, serve; on unusable settings say why (never a value)
    and exit with status 2 before connecting anywhere."""
    try:
        settings = load_settings(settings_type)
        configure_logging(fmt=settings.log_format, level=settings.log_level, service=name)
        serve(settings)
    except SettingsError as exc:
        refusal = str(exc)
    else:
        return
    log.error("service.refusing_to_start", service=name, reason=refusal)
    print(f"{name}: refusing to start: {refusal}", file=sys.stderr)  # noqa: T201 - the operator reads this
    sys.exit(EXIT_BAD_SETTINGS)


async def wait_for_stop_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_service(name: str, lifespan: Lifespan, *, stop_grace_s: float = STOP_GRACE_S) -> None:
    """Run until SIGTERM/SIGINT; the cleanup gets `stop_grace_s`, then the process ends anyway.

    A cleanup can wait on a dependency that is going away at the same moment (draining a NATS
    connection while nats-server stops); what it did not finish is safe by design (unacknowledged
    events are redelivered or replayed from the spool), so a stop never hangs.
    """
    manager = lifespan()
    await manager.__aenter__()
    try:
        log.info("service.started", service=name)
        await wait_for_stop_signal()
        log.info("service.stopping", service=name)
    except BaseException:
        if not await manager.__aexit__(*sys.exc_info()):
            raise
        return
    try:
        await asyncio.wait_for(manager.__aexit__(None, None, None), timeout=stop_grace_s)
    except TimeoutError:
        log.warning("service.stop_timeout", service=name, grace_s=stop_grace_s)


def run(name: str, lifespan: Lifespan) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        asyncio.run(run_service(name, lifespan))
    else:
        uvloop.run(run_service(name, lifespan))


__all__ = ["run", "run_service", "start", "wait_for_stop_signal"]
