"""The relayed stream's HTTP response: the relay's terminal piece ends it, a disconnect cancels the body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.api.sse import SseStream
from gateway.streaming import Last


def response_of(body: AsyncIterator[bytes]) -> Any:
    return SseStream(body, media_type="text/event-stream").to_asgi_response(None, None)  # type: ignore[arg-type]


async def test_the_relays_last_piece_ends_the_response_without_an_empty_write() -> None:
    finished: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            yield Last(b"data: [DONE]\n\n")
        finally:
            finished.append("relay")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    await response_of(body()).send_body(send, receive)
    assert [(m["body"], m["more_body"]) for m in sent] == [(b"data: 1\n\n", True), (b"data: [DONE]\n\n", False)]
    assert finished == ["relay"]  # the relay still ran to its end (its record) after the last write


async def test_a_client_that_goes_away_cancels_the_body_and_the_response_ends_quietly() -> None:
    outcome: list[str] = []
    disconnect = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(30)  # waiting for the upstream
            yield Last(b"data: [DONE]\n\n")
        except asyncio.CancelledError:
            outcome.append("client_cancelled")
            raise

    async def send(message: dict[str, Any]) -> None:
        del message
        disconnect.set()

    async def receive() -> dict[str, Any]:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    await asyncio.wait_for(response_of(body()).send_body(send, receive), 5)
    assert outcome == ["client_cancelled"]
