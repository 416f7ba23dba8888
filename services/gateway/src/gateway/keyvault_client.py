"""The gateway's side of the decryption protocol, with a short-lived in-memory key cache.

Each request is signed with the gateway's Ed25519 key and carries a fresh id, an expiry and a
one-time X25519 public key. The reply must open with that one-time key and keyvault's pinned
public key (so it is from keyvault, unaltered) and must name the same request id and integration
(so it is for this request). Decrypted credentials live only in `Secret`s, in a bounded LRU cache
with a short TTL, evicted by the credential-changed / catalog-changed events (ids only).
Concurrent misses for one key share a single keyvault round trip; while keyvault cannot be reached,
a credential no event invalidated answers stale for a bounded grace (`gateway.cache`).
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
from gateway.settings import GatewaySettings
from shared import subjects
from shared.bus import BusClient, Peer
from shared.errors import KeyrelayError
from shared.messages import keyvault as kv
from shared.secret import Secret
from shared.tokens import new_id

_payload = msgspec.json.Decoder(kv.RevealedPayload)
CacheKey = tuple[str, str, str, str]  # (org_id, integration_id, project_id, base_url asked for)


@dataclass(frozen=True, slots=True)
class RevealedCredential:
    credential: Credential
    base_url: str  # the upstream base URL keyvault lets this secret go to for this request


def to_credential(secret: dict[str, Any], fingerprint: str) -> Credential:
    """Wrap every secret value in a `Secret` the moment it is decrypted."""
    sa = secret.get("service_account_json")
    sa_text = msgspec.json.encode(sa).decode() if isinstance(sa, dict) else sa
    headers = secret.get("headers") or {}
    return Credential(
        api_key=Secret(str(secret["api_key"])) if secret.get("api_key") else None,
        service_account_json=Secret(str(sa_text)) if sa_text else None,
        headers={str(k): Secret(str(v)) for k, v in headers.items()},
        fingerprint=fingerprint,
    )


def _refused(message: str) -> KeyrelayError:
    return KeyrelayError("dependency_unavailable", message)


class KeyvaultClient:
    def __init__(
        self,
        bus: BusClient,
        signing_key: SigningKey,
        keyvault_public_key: PublicKey,
        *,
        timeout_s: float = 2.0,
        ttl_s: float = 60.0,
        max_size: int = 1024,
        request_ttl_s: float = 10.0,
        grace_s: float = 0.0,
    ) -> None:
        self._vault = Peer(bus, "keyvault", timeout_s)
        self._signing = signing_key
        self._keyvault = keyvault_public_key
        self._request_ttl = request_ttl_s
        self._cache: TTLCache[CacheKey, RevealedCredential] = TTLCache(
            max_size=max_size, ttl_s=ttl_s, grace_s=grace_s, name="credential"
        )
        self.round_trips = 0

    @classmethod
    def from_settings(cls, bus: BusClient, settings: GatewaySettings) -> KeyvaultClient:
        try:
            signing = SigningKey(base64.b64decode(settings.gateway_signing_key.reveal(), validate=True))
            keyvault = PublicKey(base64.b64decode(settings.keyvault_public_key, validate=True))
        except Exception:
            raise _refused(
                "KEYRELAY_GATEWAY_SIGNING_KEY and KEYRELAY_KEYVAULT_PUBLIC_KEY are required (base64, 32 bytes each)"
            ) from None
        return cls(
            bus,
            signing,
            keyvault,
            timeout_s=settings.keyvault_timeout_s,
            ttl_s=settings.key_cache_ttl_s,
            max_size=settings.key_cache_size,
            grace_s=settings.stale_grace_s,
        )

    async def reveal(
        self, *, org_id: str, project_id: str, integration_id: str, project_proof: bytes = b"", base_url: str = ""
    ) -> RevealedCredential:
        """The credential of `integration_id` for a request of `project_id`, from the cache or keyvault.

        `project_proof` is catalog's signature that the project belongs to the org (from the API key's
        principal); keyvault refuses a reveal without it. `base_url`: a custom model's own host the
        key is asked for (keyvault refuses a host the owner did not bind); empty: the integration's.
        """
        return await self._cache.fetch(
            (org_id, integration_id, project_id, base_url),
            lambda: self._fetch(org_id, project_id, integration_id, project_proof, base_url),
        )

    def _sign(
        self, org_id: str, project_id: str, integration_id: str, project_proof: bytes = b"", base_url: str = ""
    ) -> tuple[str, PrivateKey, bytes]:
        one_time = PrivateKey.generate()
        request_id = new_id("kvr")
        claims = kv.RevealClaims(
            purpose=kv.REVEAL_PURPOSE,
            request_id=request_id,
            expires_at=time.time() + self._request_ttl,
            org_id=org_id,
            project_id=project_id,
            integration_id=integration_id,
            reply_key=bytes(one_time.public_key),
            project_proof=project_proof,
            base_url=base_url,
        )
        return request_id, one_time, bytes(self._signing.sign(msgspec.json.encode(claims)))

    async def _fetch(
        self, org_id: str, project_id: str, integration_id: str, project_proof: bytes, base_url: str
    ) -> RevealedCredential:
        request_id, one_time, signed = self._sign(org_id, project_id, integration_id, project_proof, base_url)
        self.round_trips += 1
        reply = await self._vault.ask(subjects.KEYVAULT_REVEAL, kv.RevealRequest(signed=signed), kv.RevealGranted)
        return self.open_reply(reply, one_time, request_id=request_id, integration_id=integration_id, base_url=base_url)

    def open_reply(
        self,
        reply: kv.RevealGranted,
        one_time: PrivateKey,
        *,
        request_id: str,
        integration_id: str,
        base_url: str = "",
    ) -> RevealedCredential:
        """Accept only a reply boxed by keyvault's key to this request's one-time key, naming this request."""
        try:
            payload = _payload.decode(Box(one_time, self._keyvault).decrypt(reply.boxed))
        except (CryptoError, msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
            raise _refused("keyvault reply could not be authenticated") from None
        if payload.request_id != request_id or payload.integration_id != integration_id:
            raise _refused("keyvault reply is for another request")
        if not payload.base_url or (base_url and payload.base_url != base_url.rstrip("/")):
            raise _refused("keyvault reply names no base URL, or another one than asked for")
        return RevealedCredential(
            credential=to_credential(payload.secret, payload.fingerprint), base_url=payload.base_url
        )

    def invalidate(self, integration_id: str) -> None:
        self._cache.drop_where(lambda key, _: key[1] == integration_id)

    def invalidate_org(self, org_id: str) -> None:
        self._cache.drop_where(lambda key, _: key[0] == org_id)

    def clear(self) -> None:
        self._cache.clear()

    def revalidate(self) -> None:
        """After a bus reconnect: revalidate on next use, stale within the grace while keyvault is away."""
        self._cache.mark_stale()

    def __len__(self) -> int:
        return len(self._cache)
