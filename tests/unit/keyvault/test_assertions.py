"""Owner assertions: signed by catalog, short-lived, for one purpose."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
from nacl.signing import SigningKey

from shared.errors import KeyrelayError
from shared.vault.assertions import (
    ASSERTION_PURPOSE,
    OwnerAssertion,
    sign_assertion,
    verify_assertion,
    write_digest,
)

CATALOG = SigningKey.generate()
ARGS: dict[str, Any] = {
    "member_id": "mem_1",
    "org_id": "org_1",
    "org_role": "owner",
    "operation": "create",
    "integration_id": "int_1",
    "digest": write_digest("create", provider="openai", base_url="https://api.openai.com/v1", sealed=b"blob"),
}


def test_a_fresh_assertion_verifies_with_catalogs_key() -> None:
    """The claims come back as signed."""
    claims = verify_assertion(CATALOG.verify_key, sign_assertion(CATALOG, **ARGS))
    assert (claims.member_id, claims.org_role, claims.operation) == ("mem_1", "owner", "create")
    assert claims.expires_at - claims.issued_at <= 60


def test_an_assertion_signed_by_another_key_is_refused() -> None:
    """A forged assertion is `owner_required`."""
    with pytest.raises(KeyrelayError) as info:
        verify_assertion(CATALOG.verify_key, sign_assertion(SigningKey.generate(), **ARGS))
    assert info.value.code == "owner_required"


def test_garbage_and_empty_assertions_are_refused() -> None:
    """No assertion at all is refused the same way."""
    for blob in (b"", b"x" * 100):
        with pytest.raises(KeyrelayError):
            verify_assertion(CATALOG.verify_key, blob)


def test_an_expired_assertion_is_refused() -> None:
    """After its expiry an assertion is useless."""
    blob = sign_assertion(CATALOG, **ARGS, now=time.time() - 120)
    with pytest.raises(KeyrelayError, match="expired"):
        verify_assertion(CATALOG.verify_key, blob)


def test_a_long_lived_or_future_assertion_is_refused() -> None:
    """Lifetimes over 60 s and issue times in the future are not accepted even when signed."""
    now = time.time()
    long = OwnerAssertion(purpose=ASSERTION_PURPOSE, issued_at=now, expires_at=now + 3600, nonce="n", **ARGS)
    future = OwnerAssertion(purpose=ASSERTION_PURPOSE, issued_at=now + 600, expires_at=now + 630, nonce="n", **ARGS)
    for claims in (long, future):
        with pytest.raises(KeyrelayError, match="lifetime"):
            verify_assertion(CATALOG.verify_key, bytes(CATALOG.sign(msgspec.json.encode(claims))))


def test_a_signature_over_something_else_is_not_an_assertion() -> None:
    """The purpose field keeps other signed documents from passing as assertions."""
    now = time.time()
    other = OwnerAssertion(purpose="something-else", issued_at=now, expires_at=now + 30, nonce="n", **ARGS)
    with pytest.raises(KeyrelayError):
        verify_assertion(CATALOG.verify_key, bytes(CATALOG.sign(msgspec.json.encode(other))))


def test_the_write_digest_changes_with_everything_a_write_authorises() -> None:
    """Provider, base URL, scope and sealed blob each change the digest an assertion is signed over."""
    base: dict[str, Any] = {"provider": "openai", "base_url": "https://api.openai.com/v1", "project_scope": "all"}
    reference = write_digest("update", **base, sealed=b"blob")
    variants = [
        write_digest("create", **base, sealed=b"blob"),
        write_digest("update", **{**base, "provider": "groq"}, sealed=b"blob"),
        write_digest("update", **{**base, "base_url": "https://attacker.example/v1"}, sealed=b"blob"),
        write_digest("update", **{**base, "project_scope": ["prj_1"]}, sealed=b"blob"),
        write_digest("update", **base, sealed=b"other blob"),
    ]
    assert reference not in variants
    assert len(set(variants)) == len(variants)
