"""Secret payloads: the one validation of secret values (keyvault alone sees them in clear), per
provider, and masked forms that reveal nothing useful."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from keyvault.payloads import MASK, SecretPayload, mask, parse_payload, validate
from shared.errors import KeyrelayError
from tests.fakes.providers.service_accounts import generate_service_account

SERVICE_ACCOUNT: dict[str, Any] = dict(
    generate_service_account("https://oauth2.googleapis.com/token", project_id="proj-123").info
)


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("sk-ant-api03-abcdefghijklmnop3f9", f"sk-ant-{MASK}3f9"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz", f"sk-{MASK}xyz"),
        ("sk-canary-0123456789abcdef0123", f"sk-{MASK}123"),
        ("gsk_ABCDEFGHIJKLMNOPQRSTUVWX", f"gsk_{MASK}VWX"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", f"{MASK}XYZ"),
        ("short-key-12", MASK),
    ],
)
def test_api_keys_are_masked_to_a_vendor_prefix_and_the_last_three_characters(key: str, masked: str) -> None:
    """At most a short lowercase vendor tag and three trailing characters survive; short keys show nothing."""
    assert mask(SecretPayload(api_key=key)) == masked


def test_a_service_account_mask_shows_no_field_of_the_key_file() -> None:
    """Not even the client email: any field may carry the secret."""
    masked = mask(SecretPayload(service_account_json=SERVICE_ACCOUNT))
    assert all(str(v) not in masked for v in SERVICE_ACCOUNT.values())


def test_a_vertex_payload_needs_a_real_service_account_key_file() -> None:
    """Vertex accepts the key file as an object or as JSON text and refuses anything else."""
    validate("vertex", SecretPayload(service_account_json=SERVICE_ACCOUNT))
    validate("vertex", SecretPayload(service_account_json=msgspec.json.encode(SERVICE_ACCOUNT).decode()))
    for broken in (
        {**SERVICE_ACCOUNT, "type": "user"},
        {**SERVICE_ACCOUNT, "private_key": "nope"},
        {k: v for k, v in SERVICE_ACCOUNT.items() if k != "client_email"},
        "{not json",
        None,
    ):
        with pytest.raises(KeyrelayError) as info:
            validate("vertex", SecretPayload(service_account_json=broken))
        assert info.value.code == "invalid_credentials"


@pytest.mark.parametrize(
    "key", [None, "short", "has space inside", "x" * 5000, "line\nbreak-123", "ключ-ключ-ключ", "tab\tinside-key"]
)
def test_malformed_api_keys_are_refused_without_echoing_them(key: str | None) -> None:
    """An API key is required: 8-4096 printable ASCII characters without spaces; never echoed."""
    validate("openai", SecretPayload(api_key="sk-abcdefgh"))
    with pytest.raises(KeyrelayError) as info:
        validate("openai", SecretPayload(api_key=key))
    assert (info.value.code, info.value.param) == ("invalid_credentials", "credentials.api_key")
    assert key is None or key not in info.value.message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "authorized_user"}, "type"),
        ({"private_key": "not a key"}, "private_key"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}, "private_key"),
        ({"token_uri": "http://oauth2.googleapis.com/token"}, "token_uri"),
        ({"token_uri": "https://user@oauth2.googleapis.com/token"}, "token_uri"),
        ({"client_email": "nobody"}, "client_email"),
        ({"project_id": ""}, "project_id"),
        ({"client_email": None}, "client_email"),
    ],
)
def test_a_key_file_that_is_not_a_service_account_is_refused_naming_the_part(
    change: dict[str, Any], reason: str
) -> None:
    """Each required part is checked; the message names it and never shows the key."""
    with pytest.raises(KeyrelayError) as info:
        validate("vertex", SecretPayload(service_account_json={**SERVICE_ACCOUNT, **change}))
    assert info.value.code == "invalid_credentials"
    assert reason in info.value.message
    assert "PRIVATE KEY" not in info.value.message
    assert SERVICE_ACCOUNT["client_email"] not in info.value.message


@pytest.mark.parametrize("text", ["{", "[]", '"a string"', "x" * 70_000])
def test_key_file_text_that_is_not_a_json_object_is_refused(text: str) -> None:
    """Broken, non-object or oversized text is refused."""
    with pytest.raises(KeyrelayError) as info:
        validate("vertex", SecretPayload(service_account_json=text))
    assert info.value.param == "credentials.service_account_json"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-team": "del\x7f"},
        {"x-team": "ünïcode"},
        {"x-team": "nul\x00"},
        {"x-team": "x" * 8193},
        {"ü-header": "v"},
        {"bad header": "v"},
        {"Host": "evil.example"},
        {"X-Keyrelay-Config": "v"},
        {"X-A": "1", "x-a": "2"},
        {f"x-h{i}": "v" for i in range(33)},
    ],
    ids=[
        "del",
        "non-ascii-value",
        "nul",
        "oversized",
        "non-ascii-name",
        "space-in-name",
        "host",
        "keyrelay",
        "dup",
        "33",
    ],
)
def test_custom_headers_follow_the_one_set_of_header_rules(headers: dict[str, str]) -> None:
    """The values catalog never sees get the same rules as everywhere: DEL and non-ASCII included."""
    with pytest.raises(KeyrelayError) as info:
        validate("openai", SecretPayload(api_key="sk-abcdefgh", headers=headers))
    assert (info.value.code, info.value.param) == ("invalid_header", "custom_headers")
    for value in headers.values():
        assert value[:8] not in info.value.message or value == "v"


def test_auth_headers_and_tabs_are_accepted_for_the_hosts_catalog_allows_them_on() -> None:
    """Whether auth headers fit the integration is catalog's call (it sees names and the host)."""
    validate("openai", SecretPayload(api_key="sk-abcdefgh", headers={"Authorization": "Bearer x", "X-T": "a\tb"}))


def test_header_values_must_be_single_line() -> None:
    """A header value with a newline could inject another header upstream."""
    with pytest.raises(KeyrelayError) as info:
        validate("openai", SecretPayload(api_key="sk-abcdefgh", headers={"x-auth": "a\r\nb: c"}))
    assert "a\r\nb" not in info.value.message


def test_unknown_fields_and_non_objects_are_refused_without_echoing_them() -> None:
    """Parsing errors name the shape or the unknown field, never the value."""
    for raw in (b'{"api_key": "sk-1", "password": "hunter2"}', b'"sk-lonely"', b"\xff", b'{"Pass Word": "hunter2"}'):
        with pytest.raises(KeyrelayError) as info:
            parse_payload(raw)
        assert "hunter2" not in info.value.message
        assert "sk-lonely" not in info.value.message
    with pytest.raises(KeyrelayError, match="'password' is not a credential setting"):
        parse_payload(json.dumps({"api_key": "sk-abcdefgh", "password": "hunter2"}).encode())


def test_canonical_bytes_do_not_depend_on_key_order_or_encoding_of_the_service_account() -> None:
    """The fingerprint input is the same for an object and its JSON text."""
    as_object = SecretPayload(service_account_json=SERVICE_ACCOUNT)
    as_text = SecretPayload(service_account_json=msgspec.json.encode(dict(reversed(SERVICE_ACCOUNT.items()))).decode())
    assert as_object.canonical() == as_text.canonical()
