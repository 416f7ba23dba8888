"""Answers for the probes clients send before their first real request.

Claude Code sends `HEAD /` to its `ANTHROPIC_BASE_URL` as a connectivity check and `HEAD
/api/hello` to warm its connection; a 404 or 405 there reads as "gateway down". Both answer 200
(no body for HEAD), without authentication and without touching the bus: they say only that
this gateway is up. `GET /` names the service and where its API and console live.
"""

from __future__ import annotations

from litestar import Response, get, head

_SERVICE = {"service": "keyrelay-gateway", "status": "ok", "api": "/v1", "console": "/ui/"}


@head("/", include_in_schema=False)
async def head_root() -> Response[None]:
    return Response(None, status_code=200)


@get("/", include_in_schema=False)
async def root() -> dict[str, str]:
    return _SERVICE


@head("/api/hello", include_in_schema=False)
async def head_hello() -> Response[None]:
    return Response(None, status_code=200)


@get("/api/hello", include_in_schema=False)
async def hello() -> dict[str, str]:
    return {"status": "ok"}


PROBE_ROUTES = [head_root, root, head_hello, hello]
