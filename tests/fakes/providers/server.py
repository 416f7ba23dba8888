"""The fake provider server: one loopback aiohttp app serving every family under its path prefix."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.providers import admin
from tests.fakes.providers.families.vertex import TOKEN_PATH
from tests.fakes.providers.media import FILES_PATH, serve_file
from tests.fakes.providers.recording import STATE_KEY, recording_middleware
from tests.fakes.providers.registry import ALL_FAMILIES
from tests.fakes.providers.service_accounts import generate_service_account, load_public_key
from tests.fakes.providers.state import FakeOptions, FakeState, RecordedRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping


def build_app(state: FakeState) -> web.Application:
    app = web.Application(middlewares=[recording_middleware], client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state
    for family in ALL_FAMILIES:
        family.register(app.router)
    admin.register(app.router)
    app.router.add_get(f"{FILES_PATH}/{{name}}", serve_file)
    return app


class FakeProviderServer:
    """Emulates the LLM vendors on 127.0.0.1. Keys per family are registered up front or later."""

    def __init__(self, keys: Mapping[str, Iterable[str]] | None = None, options: FakeOptions | None = None) -> None:
        self.state = FakeState.create(keys, options)
        self.app = build_app(self.state)
        self._runner: web.AppRunner | None = None
        self.root = ""

    @property
    def options(self) -> FakeOptions:
        return self.state.options

    @property
    def port(self) -> int:
        return int(self.root.rsplit(":", 1)[1])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0 picks a free one) and return the root URL."""
        runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self.root = f"http://{host}:{bound_port}"
        return self.root

    async def stop(self) -> None:
        for task in list(self.state.tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def base_urls(self) -> dict[str, str]:
        """Provider id -> base URL, ready for `KEYRELAY_PROVIDER_BASE_URLS` (Azure keeps `{resource_name}`)."""
        return {family.name: self.root + family.base_path for family in ALL_FAMILIES}

    def requests(self, provider: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.state.requests if provider is None or r.provider == provider]

    def clear_requests(self) -> None:
        self.state.requests.clear()

    def add_key(self, provider: str, key: str) -> None:
        self.state.add_key(provider, key)

    def register_service_account(self, client_email: str, public_key_pem: str) -> None:
        self.state.service_accounts[client_email] = load_public_key(public_key_pem)

    def new_service_account(self, project_id: str = "fake-project") -> dict[str, str]:
        """A registered service-account key file whose `token_uri` is the fake token endpoint."""
        account = generate_service_account(self.root + TOKEN_PATH, project_id)
        self.register_service_account(account.info["client_email"], account.public_key_pem)
        return account.info

    def expire_tokens(self) -> None:
        """Invalidate every issued Vertex access token (the next call gets 401)."""
        self.state.tokens.clear()


@contextlib.asynccontextmanager
async def run_fake_providers(
    keys: Mapping[str, Iterable[str]] | None = None,
    *,
    options: FakeOptions | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[FakeProviderServer]:
    """`async with run_fake_providers(keys={"openai": ["sk-test"]}) as fake:` for in-process tests."""
    server = FakeProviderServer(keys, options)
    await server.start(host, port)
    try:
        yield server
    finally:
        await asyncio.shield(server.stop())
