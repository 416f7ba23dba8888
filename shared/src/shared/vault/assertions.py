"""Owner assertions: short-lived statements, signed by catalog (which authenticates members), that a
member with a given org role asks for one operation on one integration of one org.

Keyvault verifies them itself with catalog's pinned public key, so owner-only writes do not rest on
a flag set by the edge: it checks signature, purpose, lifetime (at most 60 s), org, integration,
operation, role, that the nonce was never used before, and that `digest` is the digest of exactly
what the write carries (`write_digest`: provider, base URL, scope, sealed blob), so an assertion
cannot authorise other content than the write it was signed for.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Final, Literal

import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from shared.errors import KeyrelayError
from shared.messages.base import ProjectScope

ASSERTION_PURPOSE: Final = "keyrelay.keyvault.owner-assertion.v1"
MAX_TTL_S: Final = 60.0
CLOCK_SKEW_S: Final = 5.0
Operation = Literal["create", "update", "delete", "scope", "hosts"]


class OwnerAssertion(msgspec.Struct, frozen=True, kw_only=True):
    purpose: str
    member_id: str
    org_id: str
    org_role: str
    operation: str
    integration_id: str
    issued_at: float
    expires_at: float
    nonce: str
    digest: str


def write_digest(
    operation: str,
    *,
    provider: str = "",
    base_url: str = "",
    project_scope: ProjectScope | None = None,
    sealed: bytes = b"",
    keep: str = "",
    base_urls: list[str] | None = None,
) -> str:
    """SHA-256 over what a write authorises: for a put all four, for a scope change the scope, for a
    change of the model hosts the hosts, for a delete nothing.

    `keep` names what an update keeps of the stored payload ("secret", "headers"), so an assertion
    for a re-binding cannot be used to replace the key, nor the other way round.
    """
    fields: list[object] = [
        ASSERTION_PURPOSE,
        operation,
        provider,
        base_url,
        project_scope,
        hashlib.sha256(sealed).hexdigest(),
        *([keep] if keep else []),
        *([base_urls] if base_urls is not None else []),
    ]
    return hashlib.sha256(msgspec.json.encode(fields)).hexdigest()


def kept_parts(*, keep_secret: bool, keep_headers: bool) -> str:
    return ",".join(part for part, kept in (("secret", keep_secret), ("headers", keep_headers)) if kept)


def sign_assertion(
    key: SigningKey,
    *,
    member_id: str,
    org_id: str,
    org_role: str,
    operation: Operation,
    integration_id: str,
    digest: str,
    ttl_s: float = MAX_TTL_S,
    now: float | None = None,
) -> bytes:
    """Catalog's side: a signed assertion for one operation on exactly `digest`, valid `ttl_s` s (at most 60)."""
    issued = time.time() if now is None else now
    claims = OwnerAssertion(
        purpose=ASSERTION_PURPOSE,
        member_id=member_id,
        org_id=org_id,
        org_role=org_role,
        operation=operation,
        integration_id=integration_id,
        issued_at=issued,
        expires_at=issued + min(ttl_s, MAX_TTL_S),
        nonce=secrets.token_hex(16),
        digest=digest,
    )
    return bytes(key.sign(msgspec.json.encode(claims)))


def verify_assertion(key: VerifyKey, blob: bytes, *, now: float | None = None) -> OwnerAssertion:
    """Signature, purpose and lifetime. The caller checks org, integration, operation, role and replay."""
    try:
        claims = msgspec.json.decode(key.verify(blob), type=OwnerAssertion)
    except (BadSignatureError, msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
        raise KeyrelayError("owner_required", "owner assertion missing or not signed by catalog") from None
    if claims.purpose != ASSERTION_PURPOSE:
        raise KeyrelayError("owner_required", "owner assertion missing or not signed by catalog")
    current = time.time() if now is None else now
    if claims.expires_at - claims.issued_at > MAX_TTL_S or claims.issued_at > current + CLOCK_SKEW_S:
        raise KeyrelayError("owner_required", "owner assertion lifetime is not acceptable")
    if claims.expires_at < current:
        raise KeyrelayError("owner_required", "owner assertion expired")
    return claims
