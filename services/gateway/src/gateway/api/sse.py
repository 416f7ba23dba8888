"""The HTTP response of a relayed stream: Litestar's `Stream`, lighter per stream.

Litestar's streaming response runs the body in an anyio task group beside a second task that waits
for the client's disconnect (a cancel scope, two tasks and their handles per stream) and ends every
stream with one more, empty, write. Here the body runs in the request's own task, one plain task
waits for the disconnect and cancels it (the relay then records `client_cancelled` and closes the
upstream at once, as before), and a piece the relay marks `Last` (its terminal write: the end, or
an error event) goes out as the response's end: one write fewer per stream.
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
    from collections.abc import Iterable

    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures.cookie import Cookie
    from litestar.response.base import ASGIResponse
    from litestar.types import Receive, Send, TypeEncodersMap


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
        try:
            async for piece in self.iterator:
                if ended:
                    continue  # nothing follows a `Last` piece; the loop only lets the relay finish
                last = type(piece) is Last
                body = piece if isinstance(piece, bytes) else piece.encode(self.encoding)
                await send({"type": "http.response.body", "body": body, "more_body": not last})
                ended = last
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
