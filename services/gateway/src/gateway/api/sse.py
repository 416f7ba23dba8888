"""The HTTP response of a relayed stream: Litestar's `Stream`, lighter per stream.

Litestar's streaming response runs the body in an anyio task group beside a second task that waits
for the client's disconnect (a cancel scope, two tasks and their handles per stream) and ends every
stream with one more, empty, write. Here the body runs in the request's own task, one plain task
waits for the disconnect and cancels it (the relay then records `client_cancelled` and closes the
upstream at once, as before), and a piece the relay marks `Last` (its terminal write: the end, or
an error event) goes out as the response's end: one write fewer per stream.

Under granian, the body's writes go straight to granian's own `send` (found through its `receive`,
which Litestar passes on as is), past Litestar's two exception-middleware wrappers that only look at
the response's start. Granian starts a write when `send` is called and returns a future of it; the
relay does not wait for that future at once but goes back to the upstream, and waits for it before
the next write (so writes stay in order and at most one is in flight: the same backpressure). Waiting
at once cost every paced chunk one more wake-up of the event loop (granian's thread completing the
future) and one more pass through the whole generator chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import TYPE_CHECKING, Any

from litestar.enums import MediaType
from litestar.response import Stream
from litestar.response.streaming import ASGIStreamingResponse
from litestar.utils.helpers import get_enum_string_value

from gateway.streaming import Last

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures.cookie import Cookie
    from litestar.response.base import ASGIResponse
    from litestar.types import Message, Receive, Send, TypeEncodersMap


class _SseResponse(ASGIStreamingResponse):
    async def send_body(self, send: Send, receive: Receive) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - always inside the server's task
        gone = ended = False

        async def listen() -> None:
            nonlocal gone
            try:
                while (await receive())["type"] != "http.disconnect":
                    pass
            except Exception:
                return
            if not ended:  # a disconnect after the response's end is no cancellation
                gone = True
                task.cancel()

        listener = asyncio.create_task(listen())
        eager = server_send(receive)
        writing: Awaitable[object] | None = None  # the server's write still going on, if any
        try:
            async for piece in self.iterator:
                if ended:
                    continue  # nothing follows a `Last` piece; the loop only lets the relay finish
                last = type(piece) is Last
                body = piece if isinstance(piece, bytes) else piece.encode(self.encoding)
                message: Message = {"type": "http.response.body", "body": body, "more_body": not last}
                if eager is None:
                    await send(message)
                else:
                    if writing is not None:
                        await writing  # in order, one at a time; done long ago when chunks are paced
                    writing = eager(message)
                ended = last
            if writing is not None:
                await writing  # the last write: the response is over once it is
            if not ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                ended = True
        except asyncio.CancelledError:
            if gone and task.uncancel() == 0:  # the client went away: the stream's own end, not ours
                return
            raise
        finally:
            listener.cancel()
            close = getattr(self.iterator, "aclose", None)
            if close is not None:  # left mid-way (a failed write): its `finally` runs now, not at GC
                with contextlib.suppress(Exception):
                    await close()


def server_send(receive: Receive) -> Callable[[Message], Awaitable[object]] | None:
    """Granian's own `send` when `receive` is granian's own (Litestar passes it on unwrapped): its
    writes start when called. None under any other server, or if a middleware wrapped `receive`."""
    protocol = getattr(receive, "__self__", None)
    if protocol is None or type(protocol).__module__.partition(".")[0] != "granian":
        return None
    send = getattr(protocol, "send", None)
    return send if callable(send) else None


class SseStream(Stream):
    """`Stream` with the lighter response above (same arguments)."""

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        del app, request, type_encoders
        return _SseResponse(
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            iterator=self.iterator,  # type: ignore[arg-type]
            media_type=get_enum_string_value(media_type or self.media_type or MediaType.JSON),
            status_code=self.status_code or status_code,
        )
