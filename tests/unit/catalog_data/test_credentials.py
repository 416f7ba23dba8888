"""Credential validation against each provider's schema; secrets are never echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalog.validation import validate_credentials, validate_public_credentials, validate_service_account
from shared.errors import KeyrelayError
from tests.fakes.providers.service_accounts import generate_service_account

API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def service_account() -> dict[str, Any]:
    """A real-format key file with a fresh RSA key."""
    return dict(generate_service_account("https://oauth2.googleapis.com/token", project_id="proj-123").info)


def refused(provider: str, creds: dict[str, Any], param: str, **kwargs: Any) -> KeyrelayError:
    with pytest.raises(KeyrelayError) as caught:
        validate_credentials(provider, creds, **kwargs)
    assert (caught.value.code, caught.value.param) == ("invalid_credentials", param)
    for value in creds.values():
        if isinstance(value, str) and len(value) >= 8:
            assert value not in caught.value.message
    return caught.value


def test_an_api_key_provider_splits_into_no_public_and_one_secret_field() -> None:
    """`{api_key}` is secret; nothing is public."""
    assert validate_credentials("groq", {"api_key": API_KEY}) == ({}, {"api_key": API_KEY})


def test_a_missing_api_key_is_refused_naming_the_field() -> None:
    """Required fields are reported by name."""
    refused("openai", {}, "credentials.api_key")


@pytest.mark.parametrize("key", ["short", "has space in it", "line\nbreak-123", "ключ-ключ-ключ"])
def test_malformed_api_keys_are_refused_without_echoing_them(key: str) -> None:
    """Keys are 8-4096 printable ASCII without spaces; the message never contains the key."""
    refused("anthropic", {"api_key": key}, "credentials.api_key")


def test_unknown_fields_are_refused() -> None:
    """A field the provider's schema lacks is an error, not silently stored."""
    error = refused("openai", {"api_key": API_KEY, "resource_name": "x"}, "credentials")
    assert "resource_name" in error.message


def test_azure_credentials_split_public_settings_from_the_secret_key_and_fill_the_api_version() -> None:
    """resource_name and deployments are public, api_key secret, api_version defaulted."""
    public, secret = validate_credentials(
        "azure", {"api_key": API_KEY, "resource_name": "acme-eu", "deployments": {"gpt-4.1": "prod-gpt41"}}
    )
    assert public == {"resource_name": "acme-eu", "deployments": {"gpt-4.1": "prod-gpt41"}, "api_version": "2024-10-21"}
    assert secret == {"api_key": API_KEY}


@pytest.mark.parametrize(
    ("creds", "param"),
    [
        ({"api_key": API_KEY}, "credentials.resource_name"),
        ({"api_key": API_KEY, "resource_name": "evil.com/x"}, "credentials.resource_name"),
        ({"api_key": API_KEY, "resource_name": "ok", "deployments": ["gpt-4.1"]}, "credentials.deployments"),
        ({"api_key": API_KEY, "resource_name": "ok", "deployments": {"gpt-4.1": "a b"}}, "credentials.deployments"),
        ({"api_key": API_KEY, "resource_name": "ok", "deployments": {"@x": "d"}}, "credentials.deployments"),
        ({"api_key": API_KEY, "resource_name": "ok", "api_version": "yesterday"}, "credentials.api_version"),
    ],
)
def test_invalid_azure_settings_are_refused_naming_the_field(creds: dict[str, Any], param: str) -> None:
    """Resource names, deployments and api versions are checked by shape."""
    refused("azure", creds, param)


def test_vertex_takes_a_key_file_object_or_text_and_defaults_the_project(service_account: dict[str, Any]) -> None:
    """The key file may come as an object or as its JSON text; project_id defaults to the file's."""
    for given in (service_account, json.dumps(service_account)):
        public, secret = validate_credentials("vertex", {"service_account_json": given, "location": "us-central1"})
        assert public == {"location": "us-central1", "project_id": "proj-123"}
        assert secret["service_account_json"]["client_email"] == service_account["client_email"]


def test_vertex_needs_a_location(service_account: dict[str, Any]) -> None:
    """The location picks the regional host: it is required."""
    refused("vertex", {"service_account_json": service_account}, "credentials.location")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "authorized_user"}, "type"),
        ({"private_key": "not a key"}, "private_key"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"}, "private_key"),
        ({"token_uri": "http://oauth2.googleapis.com/token"}, "token_uri"),
        ({"token_uri": "https://user@oauth2.googleapis.com/token"}, "token_uri"),
        ({"client_email": "nobody"}, "client_email"),
        ({"project_id": ""}, "project_id"),
        ({"client_email": None}, "client_email"),
    ],
)
def test_a_key_file_that_is_not_a_service_account_is_refused_naming_the_part(
    service_account: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    """Each required part is checked; the message names it and never shows the key."""
    broken = {**service_account, **change}
    with pytest.raises(KeyrelayError) as caught:
        validate_service_account(broken)
    assert caught.value.code == "invalid_credentials"
    assert reason in caught.value.message
    assert "PRIVATE KEY" not in caught.value.message
    assert service_account["client_email"] not in caught.value.message


@pytest.mark.parametrize("text", ["{", "[]", '"a string"', "x" * 70_000])
def test_key_file_text_that_is_not_a_json_object_is_refused(text: str) -> None:
    """Broken, non-object or oversized text is refused."""
    with pytest.raises(KeyrelayError) as caught:
        validate_service_account(text)
    assert caught.value.param == "credentials.service_account_json"


def test_a_custom_host_needs_no_credential_fields() -> None:
    """A self-hosted server may need no key, or take auth in custom headers."""
    assert validate_credentials("openai", {}, custom_host=True) == ({}, {})


def test_the_catalog_side_checks_public_settings_and_secret_names_only() -> None:
    """Catalog sees `public` and the sealed field names; it checks both against the schema."""
    assert validate_public_credentials("azure", {"resource_name": "acme"}, ["api_key"]) == {
        "resource_name": "acme",
        "api_version": "2024-10-21",
    }
    with pytest.raises(KeyrelayError, match=r"credentials\.api_key is required"):
        validate_public_credentials("azure", {"resource_name": "acme"}, [])
    with pytest.raises(KeyrelayError, match="sealed"):
        validate_public_credentials("openai", {"api_key": API_KEY}, [])
    with pytest.raises(KeyrelayError, match="not a secret"):
        validate_public_credentials("azure", {"resource_name": "acme"}, ["api_key", "resource_name"])
    with pytest.raises(KeyrelayError) as caught:
        validate_public_credentials("openai", {}, ["api_key", "password"])
    assert "password" in caught.value.message
