"""The upstream HTTP session: keep-alive, bounded, policy-guarded, and never following redirects.

A redirect would send the request (and custom auth headers aiohttp does not strip, such as
`x-api-key`) to a host nobody checked, so a redirect answer is refused by a session middleware
whatever `allow_redirects` says; `request()` also passes `allow_redirects=False` explicitly. The
adapters' one sending path (`gateway.providers.http.send`) skips the middleware (building its chain
costs every request) and makes the same check itself, with redirects off.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
from aiohappyeyeballs import SocketFactoryType
from aiohttp.abc import AbstractResolver

from gateway.outbound.connector import UPSTREAM_PARAM, GuardedConnector
from shared.netpolicy import AddressPolicy

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


class RedirectRefused(aiohttp.ClientResponseError):
    """The upstream answered with a redirect; Keyrelay does not follow it (a `ClientError`)."""


def check_redirect(response: aiohttp.ClientResponse) -> None:
    """A redirect answer is released and raised as `RedirectRefused`, never followed."""
    if response.status in REDIRECT_STATUSES:
        response.release()
        raise RedirectRefused(
            response.request_info, (), status=response.status, message="upstream redirected; redirects are not followed"
        )


async def refuse_redirects(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Client middleware: `check_redirect` on every answer of the session."""
    response = await handler(request)
    check_redirect(response)
    return response


def make_session(
    policy: AddressPolicy,
    *,
    limit: int = 512,
    limit_per_host: int = 0,
    keepalive_timeout: float = 30.0,
    ttl_dns_cache: int = 10,
    resolver: AbstractResolver | None = None,
    socket_factory: SocketFactoryType | None = None,
    **kwargs: Any,
) -> aiohttp.ClientSession:
    """A `ClientSession` on a `GuardedConnector`; `resolver`/`socket_factory` are for tests.

    `trust_env` stays off: proxy settings from the environment must not reroute upstream calls.
    """
    connector = GuardedConnector(
        policy,
        resolver=resolver,
        socket_factory=socket_factory,
        limit=limit,
        limit_per_host=limit_per_host,
        keepalive_timeout=keepalive_timeout,
        ttl_dns_cache=ttl_dns_cache,
    )
    session = aiohttp.ClientSession(connector=connector, middlewares=(refuse_redirects,), trust_env=False, **kwargs)
    session.policy = policy  # read by `guard_url` callers
    return session


def policy_of(session: aiohttp.ClientSession) -> AddressPolicy | None:
    """The policy a session from `make_session` enforces (None for any other session)."""
    connector = session.connector
    return connector.policy if isinstance(connector, GuardedConnector) else None


def guard_url(policy: AddressPolicy, url: str) -> None:
    """Early, cheap check of a request URL (the connector checks it again at connect time)."""
    policy.check_url(url, param=UPSTREAM_PARAM)


async def request(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> aiohttp.ClientResponse:
    """`session.request` with redirects off; asking for redirects is a programming error."""
    if kwargs.pop("allow_redirects", False):
        raise ValueError("Keyrelay never follows upstream redirects")
    return await session.request(method, url, allow_redirects=False, **kwargs)
