"""`keyrelay serve gateway` / `python -m gateway`: Litestar on granian (uvloop)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gateway.settings import GatewaySettings
from shared.logging import configure_logging
from shared.runner import STOP_GRACE_S, start
from shared.settings import load_settings

if TYPE_CHECKING:
    from litestar import Litestar


def app_factory() -> Litestar:
    """Granian worker entry point: settings are read in the worker process, and only the workers
    import the application (Litestar, the adapters, aiohttp): granian's main process, which only
    supervises them, stays small."""
    from gateway.app import create_app  # noqa: PLC0415

    settings = load_settings(GatewaySettings)
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="gateway")
    return create_app(settings)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset), not the host's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity API on this platform
        return os.cpu_count() or 1


def serve(settings: GatewaySettings) -> None:
    from granian import Granian  # noqa: PLC0415
    from granian.constants import Interfaces, Loops  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415

    Granian(
        "gateway.main:app_factory",
        address=settings.http_host,
        port=settings.http_port,
        interface=Interfaces.ASGI,
        workers=settings.http_workers or usable_cores(),
        respawn_failed_workers=True,  # a dead worker is replaced; the others keep serving meanwhile
        respawn_interval=settings.http_respawn_interval_s,
        workers_kill_timeout=int(STOP_GRACE_S),  # a stop never hangs on a worker's cleanup
        loop=Loops.uvloop,
        factory=True,
        log_access=False,
        log_level=LogLevels.warning,
    ).serve()


def main() -> None:
    start("gateway", GatewaySettings, serve)
