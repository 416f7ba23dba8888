"""Service-account JSON -> OAuth access token (providers.md 5.2), cached per service account.

The token endpoint is the key file's `token_uri` unless the operator overrides it (tests, egress
proxies); the JWT audience is the endpoint actually called. Tokens are refreshed when they have
less than `REFRESH_MARGIN_S` left, or at once after the caller saw a 401 (`invalidate`). One
refresh per service account at a time; signing is a millisecond, so it runs inline. `cryptography`
(about 7 MiB resident) is imported on the first service account used, not by every gateway worker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp
import msgspec

from gateway.providers.base import CallOptions, Credential, ProviderError
from gateway.providers.http import read_json, send
from gateway.wire.openai import encode as encode_json
from shared.secret import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LIFETIME_S = 3600
REFRESH_MARGIN_S = 225  # google-auth refreshes 3 min 45 s before expiry


class ServiceAccountInfo(msgspec.Struct, kw_only=True):
    client_email: str
    private_key: str
    private_key_id: str = ""
    token_uri: str = DEFAULT_TOKEN_URI
    project_id: str = ""


@dataclass(slots=True)
class _Account:
    info: ServiceAccountInfo
    key: rsa.RSAPrivateKey
    token: Secret | None = None
    expires_at: float = 0.0


_info_decoder = msgspec.json.Decoder(ServiceAccountInfo)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_assertion(info: ServiceAccountInfo, key: rsa.RSAPrivateKey, audience: str, now: int) -> str:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - only gateways with a service account
    from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

    header = {"alg": "RS256", "typ": "JWT", **({"kid": info.private_key_id} if info.private_key_id else {})}
    claims = {"iss": info.client_email, "scope": SCOPE, "aud": audience, "iat": now, "exp": now + LIFETIME_S}
    signing_input = f"{_b64url(encode_json(header))}.{_b64url(encode_json(claims))}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _invalid(provider: str) -> ProviderError:
    return ProviderError("upstream_auth_failed", f"{provider}: the service account JSON is not usable")


class AccessTokens:
    """Access tokens per service account (keyed by a hash of the key file, never by its content)."""

    def __init__(self, session: aiohttp.ClientSession, provider: str, token_url: str | None = None) -> None:
        self._session = session
        self._provider = provider
        self._token_url = token_url
        self._accounts: dict[str, _Account] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def account(self, cred: Credential) -> tuple[str, ServiceAccountInfo]:
        key, account = self._load(cred)
        return key, account.info

    def _load(self, cred: Credential) -> tuple[str, _Account]:
        if cred.service_account_json is None:
            raise _invalid(self._provider)
        raw = cred.service_account_json.reveal()
        cache_key = hashlib.sha256(raw.encode()).hexdigest()
        account = self._accounts.get(cache_key)
        if account is None:
            from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - see the module's doc
            from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

            try:
                info = _info_decoder.decode(raw)
                key = serialization.load_pem_private_key(info.private_key.encode(), password=None)
            except (msgspec.DecodeError, ValueError, TypeError):
                raise _invalid(self._provider) from None
            if not isinstance(key, rsa.RSAPrivateKey):
                raise _invalid(self._provider)
            account = self._accounts[cache_key] = _Account(info, key)
        return cache_key, account

    async def token(self, cred: Credential, opts: CallOptions) -> str:
        cache_key, account = self._load(cred)
        if account.token is not None and account.expires_at - REFRESH_MARGIN_S > time.time():
            return account.token.reveal()
        lock = self._locks.setdefault(cache_key, asyncio.Lock())
        async with lock:
            if account.token is None or account.expires_at - REFRESH_MARGIN_S <= time.time():
                await self._refresh(account, opts)
        assert account.token is not None  # noqa: S101 - _refresh sets it or raises
        return account.token.reveal()

    def invalidate(self, cred: Credential) -> None:
        _, account = self._load(cred)
        account.token, account.expires_at = None, 0.0

    async def _refresh(self, account: _Account, opts: CallOptions) -> None:
        url = self._token_url or account.info.token_uri
        assertion = sign_assertion(account.info, account.key, url, int(time.time()))
        form = urlencode({"grant_type": JWT_BEARER, "assertion": assertion})
        headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
        try:
            response = await send(self._session, self._provider, "POST", url, headers=headers, opts=opts, data=form)
        except ProviderError as exc:
            if exc.code == "upstream_bad_request":  # invalid_grant: wrong/revoked key, bad claims
                raise ProviderError(
                    "upstream_auth_failed",
                    f"{self._provider}: the token endpoint refused the service account",
                    upstream_status=exc.upstream_status,
                ) from None
            raise
        body = await read_json(self._provider, response)
        token = body.get("access_token")
        try:
            expires_in = float(body.get("expires_in") or LIFETIME_S)
        except (TypeError, ValueError):
            expires_in = LIFETIME_S
        if not isinstance(token, str) or not token:
            raise ProviderError("upstream_auth_failed", f"{self._provider}: the token endpoint sent no token")
        account.token, account.expires_at = Secret(token), time.time() + expires_in
