"""The relayed stream's HTTP response: the relay's terminal piece ends it, a disconnect cancels the body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.api.sse import SseStream, server_send
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


class _ServerProtocol:
    """Stands for granian's protocol object: `receive` is its bound method, `send` starts a write at
    once and returns a future of it (granian's runtime finishes it on another thread)."""

    __module__ = "granian._granian"

    def __init__(self) -> None:
        self.started: list[tuple[bytes, bool]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.finished: list[bytes] = []

    def send(self, message: dict[str, Any]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        self.started.append((message["body"], message["more_body"]))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        done: asyncio.Future[None] = loop.create_future()

        def finish() -> None:
            self.in_flight -= 1
            self.finished.append(message["body"])
            done.set_result(None)

        loop.call_later(0.01, finish)
        return done

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}


async def test_under_granian_writes_go_straight_to_the_server_in_order_one_at_a_time() -> None:
    server = _ServerProtocol()
    relay_done: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            for n in range(3):
                yield f"data: {n}\n\n".encode()
            yield Last(b"data: [DONE]\n\n")
        finally:
            relay_done.append(len(server.finished))

    async def wrapped_send(message: dict[str, Any]) -> None:
        raise AssertionError(f"the body went through the middleware's send: {message}")

    await response_of(body()).send_body(wrapped_send, server.receive)
    pieces = [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"]
    assert server.started == [(piece, piece != pieces[-1]) for piece in pieces]
    assert server.most_in_flight == 1  # the next write starts only once the last one is done
    assert server.finished == [body for body, _ in server.started]  # the last write too, before the response returns
    assert relay_done == [3]  # the relay finished (its record) while the last write was still going on


def test_only_granians_own_receive_gives_its_send() -> None:
    server = _ServerProtocol()

    async def receive() -> dict[str, Any]:
        return {}

    assert server_send(server.receive) == server.send
    assert server_send(receive) is None  # another server, or a middleware that wrapped receive


async def test_under_granian_a_client_that_goes_away_still_cancels_the_body() -> None:
    outcome: list[str] = []
    gone = asyncio.Event()

    class Server(_ServerProtocol):
        __module__ = "granian._granian"

        def send(self, message: dict[str, Any]) -> asyncio.Future[None]:
            gone.set()
            return super().send(message)

        async def receive(self) -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(30)  # waiting for the upstream
            yield Last(b"data: [DONE]\n\n")
        except asyncio.CancelledError:
            outcome.append("client_cancelled")
            raise

    async def wrapped_send(message: dict[str, Any]) -> None:
        raise AssertionError(message)

    server = Server()
    await asyncio.wait_for(response_of(body()).send_body(wrapped_send, server.receive), 5)
    assert outcome == ["client_cancelled"]
