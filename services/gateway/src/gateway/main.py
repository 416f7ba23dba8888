"""`keyrelay serve gateway` / `python -m gateway`: Litestar on granian (uvloop)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.settings import GatewaySettings
from shared.cores import usable_cores
from shared.lean import hidden
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
    with hidden("starlette", "opentelemetry"):  # Litestar's optional integrations, unused here (shared.lean)
        return create_app(settings)


def serve(settings: GatewaySettings) -> None:
    from granian import Granian  # noqa: PLC0415
    from granian.constants import Interfaces, Loops  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415

    Granian(
        "gateway.main:app_factory",
        address=settings.http_host,
        port=settings.http_port,
        interface=Interfaces.ASGI,
        workers=settings.http_workers or usable_cores(),  # a cpuset and a CPU limit count, not the host's cores
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
