"""Owner assertions: short-lived statements, signed by catalog (which authenticates members), that a
member with a given role asks for one operation on one integration. Keyvault verifies them itself,
so owner-only writes do not rest on a flag set by the edge."""

from __future__ import annotations

import secrets
import time

import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from shared.errors import KeyrelayError


class OwnerAssertion(msgspec.Struct, frozen=True, kw_only=True):
    member_id: str
    org_id: str
    org_role: str
    operation: str
    integration_id: str
    issued_at: float
    expires_at: float
    nonce: str


def sign_assertion(key: SigningKey, *, member_id: str, org_id: str, org_role: str, operation: str,
                   integration_id: str, ttl_s: float = 60.0) -> bytes:
    now = time.time()
    claims = OwnerAssertion(member_id=member_id, org_id=org_id, org_role=org_role, operation=operation,
                            integration_id=integration_id, issued_at=now, expires_at=now + ttl_s,
                            nonce=secrets.token_hex(16))
    return bytes(key.sign(msgspec.json.encode(claims)))


def verify_assertion(key: VerifyKey, blob: bytes, *, now: float | None = None) -> OwnerAssertion:
    """Signature and expiry only; the caller checks org, integration, operation, role and replay."""
    try:
        raw = key.verify(blob)
        claims = msgspec.json.decode(raw, type=OwnerAssertion)
    except (BadSignatureError, msgspec.DecodeError, msgspec.ValidationError, ValueError):
        raise KeyrelayError("owner_required", "owner assertion missing or not signed by catalog") from None
    current = time.time() if now is None else now
    if claims.expires_at < current or claims.issued_at > current + 5 or claims.expires_at - claims.issued_at > 120:
        raise KeyrelayError("owner_required", "owner assertion expired")
    return claims
