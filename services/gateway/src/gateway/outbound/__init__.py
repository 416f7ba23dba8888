"""The upstream HTTP session: keep-alive, bounded, and every connection checked by the policy.

`PolicyResolver` applies `AddressPolicy.check_ip` to each address right before aiohttp connects,
so the address checked is the address used (DNS rebinding cannot slip through). aiohttp does not
resolve IP literals, so `guard_url()` checks literal-IP URLs before each request. Callers never
follow redirects (`allow_redirects=False`).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from shared.netpolicy import AddressPolicy


class PolicyResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._policy.check_ip(ipaddress.ip_address(result["host"]), host)
        return results

    async def close(self) -> None:
        await self._inner.close()


def guard_url(policy: AddressPolicy, url: str) -> None:
    """Connect-time check for what the resolver never sees: literal IP hosts and the scheme."""
    parsed = policy.check_url(url)
    if parsed.literal_ip is not None:
        policy.check_ip(parsed.literal_ip, parsed.host)


def make_session(policy: AddressPolicy, *, limit: int = 512, resolver: AbstractResolver | None = None,
                 **kwargs: Any) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=30,
                                     resolver=PolicyResolver(policy, resolver), ttl_dns_cache=10)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=True, **kwargs)
    session.policy = policy  # type: ignore[attr-defined]
    return session
