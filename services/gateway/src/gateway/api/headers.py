"""Bounded request headers: one header value at most `MAX_HEADER_VALUE_BYTES`, all of them together at
most `MAX_HEADERS_BYTES`. Anything larger is a 400 `invalid_header` before routing, auth or parsing
(so no error message, log line or bus message ever carries it)."""

from __future__ import annotations

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.errors import KeyrelayError, echo

MAX_HEADER_VALUE_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 64 * 1024


def check_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    total = 0
    for name, value in headers:
        total += len(name) + len(value)
        if len(value) > MAX_HEADER_VALUE_BYTES:
            raise KeyrelayError(
                "invalid_header",
                f"header {echo(name.decode('latin-1'))} is larger than {MAX_HEADER_VALUE_BYTES} bytes",
            )
        if total > MAX_HEADERS_BYTES:
            raise KeyrelayError("invalid_header", f"request headers are larger than {MAX_HEADERS_BYTES} bytes")


def bounded_headers(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: refuse oversized headers before anything else looks at the request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            check_headers(scope["headers"])  # no copy: this runs on every request
        await app(scope, receive, send)

    return middleware
