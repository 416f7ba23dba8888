"""Catalog's half of credential validation: public settings and sealed field names, per provider schema.

Secret values never reach catalog; keyvault validates them when it unseals them
(`tests/unit/keyvault/test_payloads.py`).
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.providers import load_provider_registry
from catalog.validation import validate_public_credentials
from shared.errors import KeyrelayError
from shared.vault.rules import PUBLIC_CREDENTIAL_FIELDS

API_KEY = "sk-test-0123456789abcdef"


def refused(provider: str, public: dict[str, Any], param: str, secret_fields: tuple[str, ...] = ("api_key",)) -> str:
    with pytest.raises(KeyrelayError) as caught:
        validate_public_credentials(provider, public, secret_fields)
    assert (caught.value.code, caught.value.param) == ("invalid_credentials", param)
    return caught.value.message


def test_a_missing_api_key_is_refused_naming_the_field() -> None:
    """Required secret fields are checked by name (their values are sealed)."""
    assert refused("openai", {}, "credentials.api_key", ()) == "credentials.api_key is required"


def test_unknown_fields_are_refused_by_name_whether_public_or_sealed() -> None:
    """A field the provider's schema lacks is an error, not silently stored; a sealed one is named, not shown."""
    assert "resource_name" in refused("openai", {"resource_name": "x"}, "credentials")
    assert "apikey" in refused("openai", {}, "credentials", ("api_key", "apikey"))


def test_azure_public_settings_are_checked_and_the_api_version_filled() -> None:
    """resource_name and deployments are public, api_version defaulted."""
    public = {"resource_name": "acme-eu", "deployments": {"gpt-4.1": "prod-gpt41"}}
    assert validate_public_credentials("azure", public, ["api_key"]) == {**public, "api_version": "2024-10-21"}


@pytest.mark.parametrize(
    ("public", "param"),
    [
        ({}, "credentials.resource_name"),
        ({"resource_name": "evil.com/x"}, "credentials.resource_name"),
        ({"resource_name": "ok", "deployments": ["gpt-4.1"]}, "credentials.deployments"),
        ({"resource_name": "ok", "deployments": {"gpt-4.1": "a b"}}, "credentials.deployments"),
        ({"resource_name": "ok", "deployments": {"@x": "d"}}, "credentials.deployments"),
        ({"resource_name": "ok", "api_version": "yesterday"}, "credentials.api_version"),
    ],
)
def test_invalid_azure_settings_are_refused_naming_the_field(public: dict[str, Any], param: str) -> None:
    """Resource names, deployments and api versions are checked by shape."""
    refused("azure", public, param)


def test_vertex_needs_a_location() -> None:
    """The location picks the regional host: it is required."""
    refused("vertex", {"project_id": "proj-123"}, "credentials.location", ("service_account_json",))


def test_a_custom_host_needs_no_credential_fields() -> None:
    """A self-hosted server may need no key, or take auth in custom headers."""
    assert validate_public_credentials("openai", {}, [], custom_host=True) == {}


def test_secrets_sent_in_clear_or_public_settings_sent_sealed_are_refused() -> None:
    """Catalog checks which side of the seal each field came on."""
    with pytest.raises(KeyrelayError, match="sealed"):
        validate_public_credentials("openai", {"api_key": API_KEY}, [])
    with pytest.raises(KeyrelayError, match="not a secret"):
        validate_public_credentials("azure", {"resource_name": "acme"}, ["api_key", "resource_name"])


def test_the_edges_public_field_list_is_exactly_the_catalogs_public_settings() -> None:
    """The edge seals everything but `PUBLIC_CREDENTIAL_FIELDS`; it must name every public setting and no secret."""
    registry = load_provider_registry()
    fields = [field for spec in registry.all() for field in spec.credentials]
    assert {f.name for f in fields if not f.secret} == PUBLIC_CREDENTIAL_FIELDS
    assert not {f.name for f in fields if f.secret} & PUBLIC_CREDENTIAL_FIELDS
