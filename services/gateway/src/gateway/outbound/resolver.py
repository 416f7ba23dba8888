"""`PolicyResolver`: every DNS answer is checked before aiohttp may connect to it."""

from __future__ import annotations

import socket
from collections.abc import MutableSet

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from shared.netpolicy import AddressPolicy, IPAddress

MAX_VOUCHED = 4096


class PolicyResolver(AbstractResolver):
    """Wraps a resolver; raises `upstream_not_allowed` if ANY answer for a host is refused.

    Answers for an operator-exempt host name (`KEYRELAY_UPSTREAM_ALLOW=fake.internal`) are allowed
    and remembered in `vouched`, so the connector's socket check lets exactly those addresses pass.
    """

    def __init__(
        self, policy: AddressPolicy, inner: AbstractResolver | None = None, vouched: MutableSet[IPAddress] | None = None
    ) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()
        self.vouched: MutableSet[IPAddress] = vouched if vouched is not None else set()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        addresses = [self._policy.check_ip(result["host"], host, param="upstream") for result in results]
        if self._policy.is_exempt_host(host):
            if len(self.vouched) > MAX_VOUCHED:
                self.vouched.clear()
            self.vouched |= set(addresses)
        return results

    async def close(self) -> None:
        await self._inner.close()
