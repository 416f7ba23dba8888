"""Admission control: an overloaded gateway refuses new inference requests early instead of
queueing them without bound.

A request to an inference endpoint (`POST /v1/...`) is refused with 503 `overloaded` and a
`retry-after` header, before its body is read or its key checked, while this worker already serves
`max_inflight` requests or while the activity publisher's backlog (events not yet acknowledged by
JetStream) exceeds `max_publish_backlog`. Refusals are counted (`keyrelay_gateway_overload_refused_total`)
and, having done no work, leave no activity record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway import metrics
from shared.errors import ErrorCode, error_body
from shared.tokens import new_id

RETRY_AFTER_S = 1


@dataclass(slots=True)
class Admission:
    max_inflight: int
    max_backlog: int
    backlog: Callable[[], int] = lambda: 0  # the publisher's, once the app has started
    inflight: int = 0

    def refusal(self) -> str | None:
        """Why a new request must be refused now, or None to admit it."""
        if self.max_inflight > 0 and self.inflight >= self.max_inflight:
            return "inflight"
        if self.max_backlog > 0 and self.backlog() > self.max_backlog:
            return "backlog"
        return None

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware counting inference requests in flight (streams until their last byte)."""

        async def admit(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope.get("method") != "POST" or not scope["path"].startswith("/v1/"):
                await app(scope, receive, send)
                return
            reason = self.refusal()
            if reason is not None:
                metrics.OVERLOAD_REFUSED.labels(reason).inc()
                await _refuse(send)
                return
            self.inflight += 1
            try:
                await app(scope, receive, send)
            finally:
                self.inflight -= 1

        return admit


# The same answer every time (bar its request id): built once, so refusing under load costs little.
_BODY = msgspec.json.encode(error_body(ErrorCode.OVERLOADED, "the gateway is overloaded; retry later"))
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
    (b"retry-after", str(RETRY_AFTER_S).encode()),
]


async def _refuse(send: Send) -> None:
    headers = [*_HEADERS, (b"x-request-id", new_id("req").encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _BODY, "more_body": False})
