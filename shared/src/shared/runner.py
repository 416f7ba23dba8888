"""Run a service until SIGTERM/SIGINT, then let its cleanup run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from shared.logging import get_logger

log = get_logger("keyrelay.runner")


async def wait_for_stop_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_service(name: str, lifespan: Callable[[], AbstractAsyncContextManager[None]]) -> None:
    async with lifespan():
        log.info("service.started", service=name)
        await wait_for_stop_signal()
        log.info("service.stopping", service=name)


def run(name: str, lifespan: Callable[[], AbstractAsyncContextManager[None]]) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        asyncio.run(run_service(name, lifespan))
    else:
        uvloop.run(run_service(name, lifespan))


__all__ = ["run", "run_service", "wait_for_stop_signal"]
