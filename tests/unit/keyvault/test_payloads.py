"""Secret payloads: shape checks per provider and masked forms that reveal nothing useful."""

from __future__ import annotations

import msgspec
import pytest

from keyvault.payloads import MASK, SecretPayload, mask, parse_payload, validate
from shared.errors import KeyrelayError

SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "proj-1",
    "private_key_id": "abc123",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    "client_email": "bot@proj-1.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


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


def test_other_providers_need_an_api_key_without_whitespace() -> None:
    """An API key is required, 8-4096 characters, without whitespace."""
    validate("openai", SecretPayload(api_key="sk-abcdefgh"))
    for bad in (None, "short", "has space inside", "x" * 5000):
        with pytest.raises(KeyrelayError):
            validate("openai", SecretPayload(api_key=bad))


def test_header_values_must_be_single_line() -> None:
    """A header value with a newline could inject another header upstream."""
    with pytest.raises(KeyrelayError) as info:
        validate("openai", SecretPayload(api_key="sk-abcdefgh", headers={"x-auth": "a\r\nb: c"}))
    assert "a\r\nb" not in info.value.message


def test_unknown_fields_and_non_objects_are_refused_without_echoing_them() -> None:
    """Parsing errors name the shape, never the value."""
    for raw in (b'{"api_key": "sk-1", "password": "hunter2"}', b'"sk-lonely"', b"\xff"):
        with pytest.raises(KeyrelayError) as info:
            parse_payload(raw)
        assert "hunter2" not in info.value.message
        assert "sk-lonely" not in info.value.message


def test_canonical_bytes_do_not_depend_on_key_order_or_encoding_of_the_service_account() -> None:
    """The fingerprint input is the same for an object and its JSON text."""
    as_object = SecretPayload(service_account_json=SERVICE_ACCOUNT)
    as_text = SecretPayload(service_account_json=msgspec.json.encode(dict(reversed(SERVICE_ACCOUNT.items()))).decode())
    assert as_object.canonical() == as_text.canonical()
