"""What a record may say about a key it could not check: only the part the key listing shows."""

from __future__ import annotations

import secrets

from shared.tokens import api_key_prefix, new_api_key


def test_a_keys_recorded_prefix_is_only_its_listed_public_part() -> None:
    key = new_api_key()
    assert api_key_prefix(key) == key[:7]


def test_a_stray_secret_sent_as_an_api_key_is_not_recorded_even_in_part() -> None:
    assert api_key_prefix("sk-proj-" + secrets.token_hex(20)) is None
    assert api_key_prefix("kr-short") is None
