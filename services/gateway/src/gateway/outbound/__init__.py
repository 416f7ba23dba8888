"""Outbound HTTP to providers: every connection checked by the address policy (SSRF defence).

* `PolicyResolver` checks every DNS answer (any refused answer refuses the host);
* `GuardedConnector` checks each request's URL (scheme, literal IPs, which aiohttp never resolves)
  and every socket right before it connects, so the address checked is the address used and a DNS
  answer that changed since the save-time check (rebinding) cannot slip through;
* `make_session()` builds the bounded keep-alive session on it, with redirects refused;
* `request()` is `session.request` with `allow_redirects=False` enforced.

At request time a refusal raises `ProviderError("upstream_not_allowed")` (a non-retryable
`KeyrelayError`), so the proxy records it and falls back like any upstream failure; a redirect
raises `RedirectRefused` (an `aiohttp.ClientError`, mapped like a connection failure).
"""

from gateway.outbound.connector import AddressRefused, GuardedConnector
from gateway.outbound.resolver import PolicyResolver
from gateway.outbound.session import (
    RedirectRefused,
    check_redirect,
    guard_url,
    make_session,
    policy_of,
    refuse_redirects,
    request,
)

__all__ = [
    "AddressRefused",
    "GuardedConnector",
    "PolicyResolver",
    "RedirectRefused",
    "check_redirect",
    "guard_url",
    "make_session",
    "policy_of",
    "refuse_redirects",
    "request",
]
