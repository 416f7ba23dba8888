"""Tokens and keys: what a record may say about a key it could not check (only the part the key
listing shows), and what catalog accepts from the edge that made a secret (only its hash and that
public part)."""

from __future__ import annotations

import secrets

import pytest

from shared.errors import KeyrelayError
from shared.tokens import api_key_prefix, hash_token, is_shown_prefix, new_api_key, new_member_token, require_token_hash


def test_a_keys_recorded_prefix_is_only_its_listed_public_part() -> None:
    key = new_api_key()
    assert api_key_prefix(key) == key[:7]


def test_a_stray_secret_sent_as_an_api_key_is_not_recorded_even_in_part() -> None:
    assert api_key_prefix("sk-proj-" + secrets.token_hex(20)) is None
    assert api_key_prefix("kr-short") is None


def test_catalog_accepts_a_hash_made_by_hash_token() -> None:
    token_hash = hash_token(new_member_token())
    assert require_token_hash(token_hash, "token_hash") == token_hash


@pytest.mark.parametrize(
    "candidate", ["", "0" * 63, "0" * 65, "A" * 64, new_member_token(), new_api_key(), hash_token("x") + "\n"]
)
def test_catalog_refuses_anything_but_a_token_hash(candidate: str) -> None:
    with pytest.raises(KeyrelayError) as refused:
        require_token_hash(candidate, "token_hash")
    assert refused.value.code == "invalid_request"
    assert refused.value.param == "token_hash"


def test_catalog_accepts_the_listed_prefix_of_a_new_key_and_nothing_longer() -> None:
    key = new_api_key()
    prefix = api_key_prefix(key)
    assert prefix is not None
    assert is_shown_prefix(prefix)
    assert not is_shown_prefix(key)
    assert not is_shown_prefix("kr-ab")
    assert not is_shown_prefix("xx-abcd")
