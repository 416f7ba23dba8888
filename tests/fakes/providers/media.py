"""Tiny media outputs (a 1x1 PNG, a few MP4 bytes) and the route that serves them by URL."""

from __future__ import annotations

import base64

from aiohttp import web

TINY_PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
TINY_PNG = base64.b64decode(TINY_PNG_B64)
TINY_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
FILES_PATH = "/__files"


def root_of(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def file_url(request: web.Request, name: str) -> str:
    return f"{root_of(request)}{FILES_PATH}/{name}"


async def serve_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name.endswith(".mp4"):
        return web.Response(body=TINY_MP4, content_type="video/mp4")
    return web.Response(body=TINY_PNG, content_type="image/png")
