"""Small response helpers shared by the families: JSON bodies, request JSON, non-streaming faults."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from tests.fakes.providers.faults import FaultKind, Faults, close_connection, hang_forever

if TYPE_CHECKING:
    from collections.abc import Mapping


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    resp = web.Response(body=msgspec.json.encode(body), status=status, headers=headers)
    resp.content_type = "application/json"
    return resp


async def read_json_object(request: web.Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        body = json.loads(await request.read())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def send_json(
    request: web.Request, body: Any, faults: Faults, headers: Mapping[str, str] | None = None
) -> web.StreamResponse:
    """A 200 JSON answer; malformed/cut/stall faults damage it the way a broken upstream would."""
    payload = msgspec.json.encode(body)
    if FaultKind.MALFORMED in faults:
        return web.Response(body=payload[: len(payload) // 2], headers=headers, content_type="application/json")
    if FaultKind.CUT in faults or FaultKind.STALL in faults:
        resp = web.StreamResponse(status=200, headers=headers)
        resp.content_type = "application/json"
        resp.content_length = len(payload)
        await resp.prepare(request)
        await resp.write(payload[: len(payload) // 2])
        if FaultKind.CUT in faults:
            await close_connection(request)
        await hang_forever()
    return json_response(body, headers=headers)
