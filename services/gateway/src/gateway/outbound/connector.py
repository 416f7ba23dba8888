"""`GuardedConnector`: the address policy applied to every request and every socket.

aiohttp resolves host names through the connector's resolver (`PolicyResolver` checks each
answer) but never for literal IP URLs, and a proxy or a future code path could reach a socket
another way. So the connector also checks, per request, the URL it is about to connect for
(scheme and literal address), and every socket right before it connects: the socket factory sees
the exact address the kernel is asked to connect to, and refuses it unless the policy allows it.
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType, SocketFactoryType
from aiohttp import ClientRequest, ClientTimeout
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from gateway.outbound.resolver import PolicyResolver
from gateway.providers.base import ProviderError
from shared.errors import ErrorCode, KeyrelayError
from shared.netpolicy import AddressPolicy, IPAddress, refusal_reason, to_ip

UPSTREAM_PARAM = "upstream"


class AddressRefused(OSError):
    """A socket was about to connect to a refused address (an `OSError`, as aiohttp expects)."""


class GuardedConnector(aiohttp.TCPConnector):
    """A `TCPConnector` that never opens a connection to an address the policy refuses."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        socket_factory: SocketFactoryType | None = None,
        **kwargs: Any,
    ) -> None:
        self.policy = policy
        self.policy_resolver = PolicyResolver(policy, resolver)
        self._make_socket = socket_factory
        super().__init__(resolver=self.policy_resolver, socket_factory=self._open_socket, **kwargs)

    def address_allowed(self, ip: IPAddress) -> bool:
        """Allowed addresses: not refused, inside an exempt CIDR, or an exempt host's DNS answer."""
        return refusal_reason(ip) is None or self.policy.is_exempt_ip(ip) or ip in self.policy_resolver.vouched

    def _open_socket(self, addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        try:
            ip = to_ip(str(sockaddr[0]))
        except ValueError:
            raise AddressRefused("refusing a malformed upstream address") from None
        scoped = family == socket.AF_INET6 and len(sockaddr) == 4 and bool(sockaddr[3])
        if scoped or not self.address_allowed(ip):
            raise AddressRefused("refusing to connect: the upstream address is not allowed")
        if self._make_socket is not None:
            return self._make_socket(addr_info)
        return socket.socket(family=family, type=type_, proto=proto)

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: ClientTimeout,  # noqa: ASYNC109 - aiohttp signature
    ) -> Connection:
        """Check the request's URL, then connect; any refusal becomes `ProviderError(upstream_not_allowed)`.

        A `ProviderError` (not retryable, status 400) lets the proxy record the attempt; it falls back
        to the next target only where the step's `fallback_on` lists 400 (not by default).
        """
        try:
            self.policy.check_url(str(req.url), param=UPSTREAM_PARAM)  # cached per URL by the policy
            return await super().connect(req, traces, timeout)
        except KeyrelayError as exc:  # the URL check or `PolicyResolver`
            raise _refused(exc.message) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                raise _refused("upstream address is not allowed") from None
            raise


def _refused(message: str) -> ProviderError:
    return ProviderError(ErrorCode.UPSTREAM_NOT_ALLOWED, message)
