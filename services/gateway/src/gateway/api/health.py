"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get

from gateway.api.state import GatewayState
from shared import subjects
from shared.errors import KeyrelayError
from shared.messages.base import Ping, Pong


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz")
async def readyz(gw: GatewayState) -> Response[bytes]:
    """Ready when NATS is connected and catalog, keyvault and activity answer a ping."""

    async def ping(subject: str) -> str:
        try:
            await gw.bus.request(subject, Ping(), Pong, timeout_s=1.0)
        except KeyrelayError:
            return "unavailable"
        return "ok"

    names = {"catalog": subjects.CATALOG_PING, "keyvault": subjects.KEYVAULT_PING, "activity": subjects.ACTIVITY_PING}
    results = await asyncio.gather(*(ping(s) for s in names.values()))
    checks: dict[str, Any] = dict(zip(names, results, strict=True))
    checks["nats"] = "ok" if gw.bus.nc.is_connected else "unavailable"
    ready = all(v == "ok" for v in checks.values())
    body = msgspec.json.encode({"status": "ready" if ready else "not_ready", "checks": checks})
    return Response(body, status_code=200 if ready else 503, media_type="application/json")


HEALTH_ROUTES = [healthz, readyz]
