"""Run a service until SIGTERM/SIGINT, then let its cleanup run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from shared.logging import get_logger

log = get_logger("keyrelay.runner")
STOP_GRACE_S = 4.0


async def wait_for_stop_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_service(
    name: str, lifespan: Callable[[], AbstractAsyncContextManager[None]], *, stop_grace_s: float = STOP_GRACE_S
) -> None:
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


def run(name: str, lifespan: Callable[[], AbstractAsyncContextManager[None]]) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        asyncio.run(run_service(name, lifespan))
    else:
        uvloop.run(run_service(name, lifespan))


__all__ = ["run", "run_service", "wait_for_stop_signal"]
