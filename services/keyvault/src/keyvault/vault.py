"""Keyvault's policy: who may write, who may read, what is revealed, and to whom.

* Writes (put, delete, scope) need an owner assertion signed by catalog for this org, this
  integration and this operation, not yet used; anything else is refused and audited.
* Reveals need a request signed by the gateway, fresh and never seen before, for an integration of
  the caller's org whose scope includes the caller's project; the answer is boxed to the request's
  one-time key, so only that request can open it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import msgspec
from nacl.exceptions import BadSignatureError
from nacl.public import Box, PrivateKey, PublicKey, SealedBox
from nacl.signing import VerifyKey

from keyvault.crypto import Envelope, Sealer, VaultCryptoError, identity
from keyvault.repository import CredentialRepository
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages import keyvault as kv
from shared.vault.assertions import OwnerAssertion, verify_assertion

log = get_logger("keyrelay.keyvault")
_claims = msgspec.json.Decoder(kv.RevealClaims)
_payload = msgspec.json.Decoder(dict[str, Any])
_SA_FIELDS = ("type", "project_id", "private_key", "client_email", "token_uri")


class ReplayCache:
    """Remembers ids until they expire; bounded, so memory cannot grow without limit."""

    def __init__(self, max_size: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_size

    def check_and_add(self, key: str, expires_at: float) -> bool:
        now = time.time()
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = expires_at
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True


def mask(secret: str) -> str:
    prefix = ""
    for part in secret.split("-")[:-1]:
        candidate = f"{prefix}{part}-"
        if len(candidate) > 7:
            break
        prefix = candidate
    return f"{prefix[:7]}••••••{secret[-3:]}" if len(secret) >= 16 else "••••••"


def fingerprint(org_id: str, secret: bytes) -> str:
    return hashlib.blake2b(secret, key=org_id.encode()[:64], digest_size=8, person=b"krfp-v1").hexdigest()


def validate_payload(provider: str, payload: dict[str, Any]) -> None:
    headers = payload.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise KeyrelayError("invalid_credentials", "custom header values must be strings")
    sa = payload.get("service_account_json")
    if provider == "vertex" or sa is not None:
        doc = sa
        if isinstance(sa, str):
            try:
                doc = msgspec.json.decode(sa)
            except msgspec.DecodeError:
                raise KeyrelayError("invalid_credentials", "service_account_json is not JSON",
                                    param="credentials.service_account_json") from None
        if not isinstance(doc, dict) or any(not isinstance(doc.get(f), str) or not doc.get(f) for f in _SA_FIELDS) \
                or doc.get("type") != "service_account" or "PRIVATE KEY" not in str(doc.get("private_key")):
            raise KeyrelayError("invalid_credentials", "service_account_json must be a Google service-account key file",
                                param="credentials.service_account_json")
        return
    key = payload.get("api_key")
    if not isinstance(key, str) or not 8 <= len(key) <= 4096 or any(c in key for c in "\r\n\x00 "):
        raise KeyrelayError("invalid_credentials", "api_key is required (8-4096 characters, no whitespace)",
                            param="credentials.api_key")


class Vault:
    def __init__(self, repo: CredentialRepository, sealer: Sealer, private_key: PrivateKey,
                 gateway_key: VerifyKey, catalog_key: VerifyKey, audit: Any, max_age_s: float = 30.0) -> None:
        self._repo = repo
        self.sealer = sealer
        self._private = private_key
        self._unseal = SealedBox(private_key)
        self._gateway_key = gateway_key
        self._catalog_key = catalog_key
        self._audit = audit
        self._max_age = max_age_s
        self._reveal_ids = ReplayCache()
        self._assertion_nonces = ReplayCache(10_000)

    # --- writes ---------------------------------------------------------------------------------
    def _authorize(self, blob: bytes, org_id: str, integration_id: str, operation: str) -> OwnerAssertion:
        try:
            claims = verify_assertion(self._catalog_key, blob)
            if (claims.org_id, claims.integration_id, claims.operation) != (org_id, integration_id, operation):
                raise KeyrelayError("owner_required", "owner assertion is for another operation")
            if claims.org_role != "owner":
                raise KeyrelayError("owner_required", "only organization owners may change credentials")
            if not self._assertion_nonces.check_and_add(claims.nonce, claims.expires_at):
                raise KeyrelayError("owner_required", "owner assertion already used")
        except KeyrelayError as exc:
            self._audit(org_id, "unknown", f"credential.{operation}.denied", integration_id, "denied",
                        {"reason": exc.message})
            raise
        return claims

    async def put(self, req: kv.PutCredential) -> kv.CredentialView:
        operation = "update" if await self._repo.get(req.integration_id) is not None else "create"
        claims = self._authorize(req.assertion, req.org_id, req.integration_id,
                                 operation if operation == "update" else "create")
        try:
            raw = self._unseal.decrypt(req.sealed)
            payload = _payload.decode(raw)
        except Exception:
            raise KeyrelayError("invalid_credentials", "credentials were not sealed to this keyvault") from None
        validate_payload(req.provider, payload)
        secret_text = str(payload.get("api_key") or "")
        sa = payload.get("service_account_json")
        if isinstance(sa, (dict, str)) and not secret_text:
            doc = sa if isinstance(sa, dict) else msgspec.json.decode(sa)
            secret_text = str(doc.get("private_key_id") or doc.get("client_email") or "service-account")
            view_mask = f"service account {doc.get('client_email', '')}"
        else:
            view_mask = mask(secret_text)
        env = self.sealer.seal(raw, identity(req.org_id, req.integration_id, req.provider, req.base_url))
        now = datetime.now(UTC)
        existing = await self._repo.get(req.integration_id)
        if existing is not None and existing["org_id"] != req.org_id:
            raise KeyrelayError("integration_not_found", "integration not found")
        doc = {
            "_id": req.integration_id, "org_id": req.org_id, "provider": req.provider, "base_url": req.base_url,
            "project_scope": req.project_scope, "kek_id": env.kek_id, "wrapped_key": env.wrapped_key,
            "ciphertext": env.ciphertext, "masked": view_mask,
            "fingerprint": fingerprint(req.org_id, raw), "header_names": sorted(payload.get("headers", {})),
            "updated_at": now, "updated_by": claims.member_id, "version": int((existing or {}).get("version", 0)) + 1,
        }
        await self._repo.upsert(doc)
        self._audit(req.org_id, claims.member_id, f"credential.{operation}", req.integration_id, "ok",
                    {"fingerprint": doc["fingerprint"]})
        return _view(doc)

    async def delete(self, req: kv.DeleteCredential) -> None:
        claims = self._authorize(req.assertion, req.org_id, req.integration_id, "delete")
        await self._repo.delete(req.org_id, req.integration_id)
        self._audit(req.org_id, claims.member_id, "credential.delete", req.integration_id, "ok", {})

    async def set_scope(self, req: kv.SetScope) -> None:
        claims = self._authorize(req.assertion, req.org_id, req.integration_id, "scope")
        if not await self._repo.set_scope(req.org_id, req.integration_id, req.project_scope):
            raise KeyrelayError("integration_not_found", "integration not found")
        self._audit(req.org_id, claims.member_id, "credential.scope", req.integration_id, "ok", {})

    async def describe(self, req: kv.DescribeCredentials) -> kv.Described:
        docs = await self._repo.many(req.org_id, req.integration_ids[:1000])
        return kv.Described(credentials={d["_id"]: _view(d) for d in docs})

    # --- reveal ---------------------------------------------------------------------------------
    async def reveal(self, req: kv.RevealRequest) -> kv.RevealGranted:
        try:
            claims = _claims.decode(self._gateway_key.verify(req.signed))
        except (BadSignatureError, msgspec.DecodeError, msgspec.ValidationError, ValueError):
            log.warning("keyvault.reveal_refused", reason="bad_signature")
            raise KeyrelayError("forbidden", "decryption request is not signed by the gateway") from None
        now = time.time()
        if claims.expires_at < now or claims.expires_at > now + self._max_age:
            raise KeyrelayError("forbidden", "decryption request expired")
        if not self._reveal_ids.check_and_add(claims.request_id, claims.expires_at):
            raise KeyrelayError("forbidden", "decryption request replayed")
        doc = await self._repo.get(claims.integration_id)
        if doc is None or doc["org_id"] != claims.org_id or not _in_scope(doc.get("project_scope"), claims.project_id):
            raise KeyrelayError("integration_not_found", "integration not found")
        env = Envelope(kek_id=doc["kek_id"], wrapped_key=doc["wrapped_key"], ciphertext=doc["ciphertext"])
        try:
            raw = self.sealer.open(env, identity(doc["org_id"], doc["_id"], doc["provider"], doc["base_url"]))
        except VaultCryptoError as exc:
            log.error("keyvault.decrypt_failed", error=type(exc).__name__, integration_id=doc["_id"])
            raise KeyrelayError("internal_error", f"credential cannot be decrypted ({type(exc).__name__})") from None
        payload = kv.RevealedPayload(request_id=claims.request_id, base_url=doc["base_url"],
                                     fingerprint=doc.get("fingerprint", ""), secret=_payload.decode(raw))
        boxed = Box(self._private, PublicKey(claims.reply_key)).encrypt(msgspec.json.encode(payload))
        self._audit(claims.org_id, "gateway", "credential.decrypt", doc["_id"], "ok", {"project_id": claims.project_id})
        return kv.RevealGranted(boxed=bytes(boxed))


def _in_scope(scope: Any, project_id: str) -> bool:
    return scope == "all" or (isinstance(scope, list) and project_id in scope)


def _view(doc: dict[str, Any]) -> kv.CredentialView:
    updated = doc.get("updated_at")
    return kv.CredentialView(masked=doc.get("masked", ""), fingerprint=doc.get("fingerprint", ""),
                             updated_at=updated.isoformat() if isinstance(updated, datetime) else "",
                             updated_by=doc.get("updated_by", ""), header_names=doc.get("header_names", []),
                             kek_id=doc.get("kek_id", ""))


__all__ = ["Vault", "base64"]
