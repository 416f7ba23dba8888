"""Faults injected from outside the services: a loopback TCP proxy that can black-hole one
direction of its connections or cut them all (e.g. between a service and nats-server)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Self

from shared.embedded import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port` on its own thread and event loop
    (the tests block theirs with synchronous clients)."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.drop_to_server = False  # bytes from the client are read and thrown away
        self.drop_to_client = False  # bytes from the server are read and thrown away
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        self._call(self._serve())
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def black_hole(self, *, to_server: bool = False, to_client: bool = False) -> None:
        """From now on, silently lose what is sent in that direction on every connection."""
        self.drop_to_server, self.drop_to_client = to_server, to_client

    def cut(self) -> None:
        """Reset every open connection (a lost network); new connections are forwarded again."""
        self.black_hole()
        self._call(self._abort_all())

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._abort_all()
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, server_writer}
        await asyncio.gather(
            self._pipe(client_reader, server_writer, to_server=True),
            self._pipe(server_reader, client_writer, to_server=False),
            return_exceptions=True,
        )
        for writer in (client_writer, server_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, to_server: bool) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if not (self.drop_to_server if to_server else self.drop_to_client):
                    writer.write(data)
                    await writer.drain()
        writer.transport.abort()  # one side gone: the other goes too
