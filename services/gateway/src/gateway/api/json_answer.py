"""A JSON answer already encoded, sent as one ASGI response without Litestar's general machinery.

Litestar turns every `Response` into an `ASGIResponse` on each request: it merges the route's
headers into a dict, renders the content through a serializer, builds a header list one
`MutableScopeHeaders.add` at a time (with a `setdefault` scan for content-type and -length). An
inference answer needs none of it: its bytes are encoded, and its headers are ours. `JsonAnswer` is
still a Litestar `Response` (handlers, exception handlers and tests see the usual type), but when
nothing route-level has to be merged into it, it becomes `RawResponse`: the header list built in
one pass, then the two ASGI messages. Anything else (a route's own headers, cookies, a background
task, a HEAD request) goes through Litestar's own way, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Response

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.response.base import ASGIResponse
    from litestar.types import Receive, Scope, Send

JSON = b"application/json"
# what a route may add to an answer: any of them sends it Litestar's own way
_ROUTE_LEVEL = ("background", "cookies", "encoded_headers", "headers", "is_head_response")


class RawResponse:
    """The ASGI app of one finished answer: status, encoded headers, body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del scope, receive
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def encode_headers(headers: dict[str, str], body: bytes) -> list[tuple[bytes, bytes]]:
    """What `ASGIResponse` sends for these headers and a JSON body, in the same order."""
    out = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    if "content-type" not in headers:
        out.append((b"content-type", JSON))
    if "content-length" not in headers:
        out.append((b"content-length", str(len(body)).encode()))
    return out


class JsonAnswer(Response[bytes]):
    """JSON bytes with the gateway's headers; see the module."""

    def __init__(self, body: bytes, headers: dict[str, str], status: int = 200) -> None:
        super().__init__(body, status_code=status, media_type="application/json", headers=headers)

    def to_asgi_response(self, app: Litestar | None, request: Request[Any, Any, Any], **options: Any) -> ASGIResponse:
        """`RawResponse` when nothing route-level is given, else Litestar's own (same options)."""
        if any(options.get(name) for name in _ROUTE_LEVEL) or self.background or self.cookies:
            return super().to_asgi_response(app, request, **options)
        status = self.status_code or options.get("status_code") or 200
        raw = RawResponse(status, encode_headers(self.headers, self.content), self.content)
        return raw  # type: ignore[return-value] # an ASGI app, which is all Litestar does with it
