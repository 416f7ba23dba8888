"""The gateway's side of the decryption protocol, with a short-lived in-memory key cache.

Each request is signed with the gateway's Ed25519 key, carries a fresh id, an expiry and a
one-time X25519 public key; the reply must open with that one-time key and keyvault's pinned
public key (so it is from keyvault) and must name the same request id (so it is for this request).
Decrypted credentials live only in `Secret`s, in a bounded cache with a short TTL that change
events evict by integration id.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey

from gateway.cache import TTLCache
from gateway.providers.base import Credential
from shared import subjects
from shared.bus import BusClient
from shared.errors import KeyrelayError
from shared.messages import keyvault as kv
from shared.secret import Secret
from shared.tokens import new_id

_payload = msgspec.json.Decoder(kv.RevealedPayload)


@dataclass(frozen=True, slots=True)
class RevealedCredential:
    credential: Credential
    base_url: str


def _credential(secret: dict[str, Any], fingerprint: str) -> Credential:
    sa = secret.get("service_account_json")
    sa_text = msgspec.json.encode(sa).decode() if isinstance(sa, dict) else sa
    headers = secret.get("headers") or {}
    return Credential(
        api_key=Secret(str(secret["api_key"])) if secret.get("api_key") else None,
        service_account_json=Secret(str(sa_text)) if sa_text else None,
        headers={str(k): Secret(str(v)) for k, v in headers.items()},
        fingerprint=fingerprint,
    )


class KeyvaultClient:
    def __init__(self, bus: BusClient, signing_key: SigningKey, keyvault_public_key: PublicKey, *,
                 timeout_s: float = 2.0, ttl_s: float = 60.0, max_size: int = 1024) -> None:
        self._bus = bus
        self._signing = signing_key
        self._keyvault = keyvault_public_key
        self._timeout = timeout_s
        self._cache: TTLCache[tuple[str, str], RevealedCredential] = TTLCache(max_size=max_size, ttl_s=ttl_s)
        self.round_trips = 0

    @classmethod
    def from_settings(cls, bus: BusClient, settings: Any) -> KeyvaultClient:
        if not settings.gateway_signing_key or not settings.keyvault_public_key:
            raise KeyrelayError("dependency_unavailable",
                                "KEYRELAY_GATEWAY_SIGNING_KEY and KEYRELAY_KEYVAULT_PUBLIC_KEY are required")
        return cls(bus, SigningKey(base64.b64decode(settings.gateway_signing_key)),
                   PublicKey(base64.b64decode(settings.keyvault_public_key)),
                   timeout_s=settings.keyvault_timeout_s, ttl_s=settings.key_cache_ttl_s,
                   max_size=settings.key_cache_size)

    async def reveal(self, *, org_id: str, project_id: str, integration_id: str) -> RevealedCredential:
        key = (integration_id, project_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        revealed = await self._fetch(org_id, project_id, integration_id)
        self._cache.put(key, revealed)
        return revealed

    async def _fetch(self, org_id: str, project_id: str, integration_id: str) -> RevealedCredential:
        one_time = PrivateKey.generate()
        request_id = new_id("kvr")
        claims = kv.RevealClaims(request_id=request_id, expires_at=time.time() + 10.0, org_id=org_id,
                                 project_id=project_id, integration_id=integration_id,
                                 reply_key=bytes(one_time.public_key))
        signed = bytes(self._signing.sign(msgspec.json.encode(claims)))
        self.round_trips += 1
        reply: kv.RevealGranted = await self._bus.request(subjects.KEYVAULT_REVEAL, kv.RevealRequest(signed=signed),
                                                          kv.RevealGranted, timeout_s=self._timeout, dependency="keyvault")
        try:
            payload = _payload.decode(Box(one_time, self._keyvault).decrypt(reply.boxed))
        except (CryptoError, msgspec.DecodeError, msgspec.ValidationError, ValueError):
            raise KeyrelayError("dependency_unavailable", "keyvault reply could not be authenticated") from None
        if payload.request_id != request_id:
            raise KeyrelayError("dependency_unavailable", "keyvault reply is for another request")
        return RevealedCredential(credential=_credential(payload.secret, payload.fingerprint), base_url=payload.base_url)

    def invalidate(self, integration_id: str) -> None:
        self._cache.drop_where(lambda key, _: key[0] == integration_id)

    def clear(self) -> None:
        self._cache.clear()
