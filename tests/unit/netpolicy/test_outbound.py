"""Connect-time guard: no socket is ever opened to a refused address, whatever the DNS says.

A real aiohttp server on 127.0.0.1 stands in for an upstream. The session gets a stub resolver
(answers from a table, changeable between calls) and a recording socket factory, which also
refuses anything but loopback so a test can never reach the network even if the guard failed.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.outbound import RedirectRefused, make_session, request
from gateway.providers.base import CallOptions, ProviderError
from gateway.providers.http import send
from shared.errors import KeyrelayError
from shared.netpolicy import AddressPolicy


class StubResolver(AbstractResolver):
    """Answers from a table of successive answer lists; the last list repeats."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        answers = self.table[host]
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in current
        ]

    async def close(self) -> None:
        return None


@dataclass
class RecordingSockets:
    """Socket factory recording every connect attempt; only loopback sockets are ever created."""

    attempts: list[str] = field(default_factory=list)

    def __call__(self, addr_info: tuple[int, int, int, str, tuple[object, ...]]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        self.attempts.append(str(sockaddr[0]))
        if sockaddr[0] not in ("127.0.0.1", "::1"):
            raise OSError("test safety net: only loopback may be connected")
        return socket.socket(family=family, type=type_, proto=proto)


@dataclass
class Upstream:
    port: int
    paths: list[str]

    def url(self, host: str = "127.0.0.1", path: str = "/ok") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """A local HTTP server: `/ok` answers 200, `/redirect` answers 302 to `/ok`."""
    paths: list[str] = []

    async def handle(req: web.Request) -> web.Response:
        paths.append(req.path)
        if req.path == "/redirect":
            raise web.HTTPFound(f"http://127.0.0.1:{req.url.port}/ok")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Upstream(port=port, paths=paths)
    finally:
        await runner.cleanup()


async def fetch(
    policy: AddressPolicy, url: str, resolver: AbstractResolver | None = None, sockets: RecordingSockets | None = None
) -> int:
    async with make_session(
        policy, resolver=resolver or StubResolver({}), socket_factory=sockets, ttl_dns_cache=0
    ) as session:
        response = await request(session, "GET", url)
        async with response:
            return response.status


async def test_an_allowed_loopback_upstream_is_reached(upstream: Upstream) -> None:
    """With `127.0.0.1/32` exempt, a literal loopback URL connects and answers."""
    sockets = RecordingSockets()
    assert await fetch(AddressPolicy(["127.0.0.1/32"]), upstream.url(), sockets=sockets) == 200
    assert sockets.attempts == ["127.0.0.1"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "127.1", "0177.0.0.1"]
)
async def test_a_literal_refused_address_is_never_connected(upstream: Upstream, host: str) -> None:
    """aiohttp skips the resolver for IP literals; the connector still refuses before any socket."""
    sockets = RecordingSockets()
    with pytest.raises((KeyrelayError, aiohttp.InvalidURL)) as caught:
        await fetch(AddressPolicy(allow_http=True), upstream.url(host), sockets=sockets)
    if isinstance(caught.value, KeyrelayError):
        assert caught.value.code == "upstream_not_allowed"
    assert sockets.attempts == []
    assert upstream.paths == []


async def test_a_name_resolving_to_a_refused_address_is_never_connected(upstream: Upstream) -> None:
    """The resolver's answer is checked before aiohttp may use it."""
    sockets = RecordingSockets()
    resolver = StubResolver({"api.example.com": [["127.0.0.1"]]})
    with pytest.raises(ProviderError) as caught:
        await fetch(AddressPolicy(allow_http=True), upstream.url("api.example.com"), resolver, sockets)
    assert (caught.value.code, caught.value.retryable) == ("upstream_not_allowed", False)
    assert sockets.attempts == []


async def test_dns_rebinding_after_the_save_time_check_is_refused_at_connect(upstream: Upstream) -> None:
    """Public at save time, loopback at connect time: the connect-time answer is refused."""
    sockets = RecordingSockets()
    resolver = StubResolver({"rebind.example.com": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = AddressPolicy(allow_http=True)
    await policy.check_url_and_host(upstream.url("rebind.example.com", ""), resolver)
    with pytest.raises(KeyrelayError):
        await fetch(policy, upstream.url("rebind.example.com"), resolver, sockets)
    assert resolver.asked == ["rebind.example.com", "rebind.example.com"]
    assert sockets.attempts == []
    assert upstream.paths == []


async def test_one_refused_answer_refuses_every_address_of_the_host(upstream: Upstream) -> None:
    """With a public and an internal answer, no connection is attempted to either."""
    sockets = RecordingSockets()
    resolver = StubResolver({"mixed.example.com": [["93.184.216.34", "127.0.0.1"]]})
    with pytest.raises(KeyrelayError):
        await fetch(AddressPolicy(allow_http=True), upstream.url("mixed.example.com"), resolver, sockets)
    assert sockets.attempts == []


async def test_an_exempt_host_name_may_resolve_to_loopback(upstream: Upstream) -> None:
    """`KEYRELAY_UPSTREAM_ALLOW=fake.internal` vouches for that name's answers, down to the socket."""
    sockets = RecordingSockets()
    resolver = StubResolver({"fake.internal": [["127.0.0.1"]]})
    assert await fetch(AddressPolicy(["fake.internal"]), upstream.url("fake.internal"), resolver, sockets) == 200
    assert sockets.attempts == ["127.0.0.1"]


async def test_userinfo_in_a_request_url_does_not_hide_the_real_host(upstream: Upstream) -> None:
    """`http://good.com@127.0.0.1/` connects to 127.0.0.1, so it is refused as such."""
    sockets = RecordingSockets()
    with pytest.raises(KeyrelayError):
        await fetch(AddressPolicy(allow_http=True), f"http://good.com@127.0.0.1:{upstream.port}/ok", sockets=sockets)
    assert sockets.attempts == []


async def test_a_socket_to_a_refused_address_is_refused_even_when_the_resolver_is_bypassed(
    upstream: Upstream,
) -> None:
    """Through a proxy aiohttp connects to the proxy's literal address; the socket check refuses it."""
    sockets = RecordingSockets()
    policy = AddressPolicy(allow_http=True)
    resolver = StubResolver({"api.example.com": [["93.184.216.34"]]})
    async with make_session(policy, resolver=resolver, socket_factory=sockets) as session:
        with pytest.raises(KeyrelayError):
            await session.get("http://api.example.com/ok", proxy=upstream.url(path=""), allow_redirects=False)
    assert sockets.attempts == []
    assert upstream.paths == []


async def test_plain_http_is_refused_at_connect_time_unless_allowed(upstream: Upstream) -> None:
    """The scheme rule applies to every request, not only to saved URLs."""
    resolver = StubResolver({"api.example.com": [["93.184.216.34"]]})
    sockets = RecordingSockets()
    with pytest.raises(KeyrelayError, match="https"):
        await fetch(AddressPolicy(), upstream.url("api.example.com"), resolver, sockets)
    assert sockets.attempts == []


async def test_redirects_are_never_followed_even_when_asked(upstream: Upstream) -> None:
    """A 302 raises `RedirectRefused` and the redirect target is never requested."""
    policy = AddressPolicy(["127.0.0.1/32"])
    async with make_session(policy, resolver=StubResolver({})) as session:
        with pytest.raises(RedirectRefused) as caught:
            await session.get(upstream.url(path="/redirect"), allow_redirects=True)
        with pytest.raises(ValueError, match="redirects"):
            await request(session, "GET", upstream.url(path="/redirect"), allow_redirects=True)
    assert caught.value.status == 302
    assert upstream.paths == ["/redirect"]


@pytest.mark.parametrize("stream", [False, True])
async def test_the_adapters_sending_path_refuses_a_redirect_as_a_connection_failure(
    upstream: Upstream, *, stream: bool
) -> None:
    """`send` skips the session's middleware chain and refuses the redirect itself, mapped as before."""
    policy = AddressPolicy(["127.0.0.1/32"])
    async with make_session(policy, resolver=StubResolver({})) as session:
        with pytest.raises(ProviderError) as caught:
            await send(
                session, "openai", "POST", upstream.url(path="/redirect"), headers={}, opts=CallOptions(), stream=stream
            )
    assert caught.value.code == "upstream_error"
    assert "RedirectRefused" in caught.value.message
    assert upstream.paths == ["/redirect"]


async def test_keep_alive_reuses_one_connection_for_sequential_requests(upstream: Upstream) -> None:
    """The session pools connections: two requests, one socket."""
    sockets = RecordingSockets()
    async with make_session(
        AddressPolicy(["127.0.0.1/32"]), resolver=StubResolver({}), socket_factory=sockets
    ) as session:
        for _ in range(2):
            async with await request(session, "GET", upstream.url()) as response:
                assert response.status == 200
    assert sockets.attempts == ["127.0.0.1"]
    assert upstream.paths == ["/ok", "/ok"]
