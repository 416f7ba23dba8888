"""Console security at the edge: the password KDF, session and CSRF tokens, cookies, headers,
and the per-client sign-in limiter.

* scrypt (hashlib, memory-hard) runs here, in a worker thread, so the password never leaves the
  gateway; catalog gets only the KDF output and keeps only its SHA-256.
* The session token lives in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind HTTPS);
  catalog stores only its hash. The CSRF token of a session is derived from the session token
  (one-way), so every replica can check it without shared state, and it reveals nothing.
* Before sign-in, forms carry a double-submit token (random cookie == form field).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from typing import Any, Final

from litestar import Request, Response

SESSION_COOKIE: Final = "keyrelay_session"
PRE_CSRF_COOKIE: Final = "keyrelay_csrf"
PROJECT_COOKIE: Final = "keyrelay_project"
SESSION_PREFIX: Final = "krs_"
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
MIN_PASSWORD: Final = 12
MAX_PASSWORD: Final = 256

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


def _scrypt(password: str, salt_hex: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"), salt=bytes.fromhex(salt_hex), n=n, r=r, p=p, maxmem=128 * 1024 * 1024
    ).hex()


async def derive_proof(password: str, salt_hex: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """scrypt(password, salt) off the event loop."""
    return await asyncio.to_thread(_scrypt, password, salt_hex, n, r, p)


def new_salt() -> str:
    return secrets.token_hex(16)


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def csrf_for(session_token: str) -> str:
    return hashlib.sha256(b"keyrelay-console-csrf:" + session_token.encode()).hexdigest()


def tokens_match(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def is_https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def set_cookie(
    response: Response[Any],
    request: Request[Any, Any, Any],
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        key=name,
        value=value,
        path="/ui",
        max_age=max_age,
        httponly=http_only,
        samesite="strict",
        secure=is_https(request),
    )


def clear_cookie(response: Response[Any], request: Request[Any, Any, Any], name: str) -> None:
    set_cookie(response, request, name, "", max_age=0)


class ClientLimiter:
    """Failed sign-ins per client address (this replica): at most `limit` in `window_s` seconds.
    Catalog limits each account across replicas; this stops one client spraying many accounts."""

    def __init__(self, limit: int = 20, window_s: float = 600.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        now = time.monotonic()
        entries = self._failures.get(client)
        if entries is None:
            if len(self._failures) >= self.max_clients:
                self._failures.pop(next(iter(self._failures)))
            entries = self._failures[client] = deque()
        while entries and entries[0] < now - self.window_s:
            entries.popleft()
        return entries

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.limit

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())
