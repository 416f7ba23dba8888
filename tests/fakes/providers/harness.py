"""Ways to run the fake outside an `async with`: a background thread for sync code, and key parsing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import TYPE_CHECKING, TypeVar

from tests.fakes.providers.server import FakeProviderServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from tests.fakes.providers.state import FakeOptions, RecordedRequest

T = TypeVar("T")


def keys_from_json(text: str) -> dict[str, list[str]]:
    """`{"openai": ["sk-a"], "anthropic": "sk-b"}` -> provider -> keys (a lone string is one key)."""
    if not text.strip():
        return {}
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise TypeError("--keys-json must be a JSON object {provider: [keys]}")
    return {str(p): [v] if isinstance(v, str) else [str(k) for k in v] for p, v in raw.items()}


class FakeProvidersThread:
    """A fake server on its own event loop in a daemon thread; methods are safe to call from sync code."""

    def __init__(self, server: FakeProviderServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server, self._loop = server, loop

    @property
    def root(self) -> str:
        return self.server.root

    def base_urls(self) -> dict[str, str]:
        return self.server.base_urls()

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def requests(self, provider: str | None = None) -> list[RecordedRequest]:
        return self._call(lambda: self.server.requests(provider))

    def clear_requests(self) -> None:
        self._call(self.server.clear_requests)

    def add_key(self, provider: str, key: str) -> None:
        self._call(lambda: self.server.add_key(provider, key))

    def new_service_account(self, project_id: str = "fake-project") -> dict[str, str]:
        return self._call(lambda: self.server.new_service_account(project_id))


@contextlib.contextmanager
def run_in_thread(
    keys: Mapping[str, Iterable[str]] | None = None, *, options: FakeOptions | None = None, port: int = 0
) -> Iterator[FakeProvidersThread]:
    """`with run_in_thread(keys=...) as fake:` for synchronous tests and scripts."""
    loop = asyncio.new_event_loop()
    server = FakeProviderServer(keys, options)
    thread = threading.Thread(target=loop.run_forever, name="fake-providers", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(port=port), loop).result(timeout=30)
        yield FakeProvidersThread(server, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
