"""Credentials at the edge: every value that is not a public setting travels sealed, and the one
validation of secret values (in keyvault, the only place that sees them in clear) runs in production."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from shared.stack import EmbeddedStack
from tests.conftest import PROVIDER_KEY, Org, bootstrap, read_logs


@pytest.fixture(scope="module")
def owner(stack: EmbeddedStack) -> Org:
    return bootstrap(stack)


def create(
    org: Org, credentials: dict[str, Any], headers: dict[str, str] | None = None, slug: str = "input-x"
) -> tuple[int, dict[str, Any]]:
    body = {
        "provider": "openai",
        "name": "input",
        "slug": slug,
        "credentials": credentials,
        "custom_headers": headers or {},
        "models": {"enabled": ["gpt-4o-mini"]},
    }
    response = org.owner.post("/integrations", json=body)
    return response.status_code, response.json()


def test_an_unknown_credential_field_is_refused_by_name_and_its_value_never_travels_in_clear(
    stack: EmbeddedStack, owner: Org
) -> None:
    """A misspelt secret field (`apikey`) is sealed at the edge like every non-public value; catalog names it."""
    canary = "sk-canary-misplaced-" + secrets.token_hex(12)
    status, body = create(owner, {"api_key": PROVIDER_KEY, "apikey": canary})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_credentials"
    assert "apikey" in body["error"]["message"]
    assert canary not in str(body)
    assert canary not in read_logs(stack)  # DEBUG logs of every service, bus handlers included


@pytest.mark.parametrize(
    ("credentials", "headers", "code"),
    [
        ({"api_key": "sk-ключ-0123456789"}, {}, "invalid_credentials"),
        ({"api_key": "sk-tab\there-0123456789"}, {}, "invalid_credentials"),
        ({"api_key": PROVIDER_KEY}, {"x-tenant": "del\x7fvalue"}, "invalid_header"),
        ({"api_key": PROVIDER_KEY}, {"x-tenant": "ünïcode"}, "invalid_header"),
    ],
    ids=["non-ascii-key", "tab-in-key", "del-in-header-value", "non-ascii-header-value"],
)
def test_secret_values_are_validated_where_they_enter_in_clear(
    owner: Org, credentials: dict[str, Any], headers: dict[str, str], code: str
) -> None:
    """Keyvault applies the one set of rules (`shared.vault.rules`) after unsealing; nothing is stored."""
    slug = f"input-{secrets.token_hex(4)}"
    status, body = create(owner, credentials, headers, slug)
    assert (status, body["error"]["code"]) == (400, code), body
    assert owner.owner.get(f"/integrations/{slug}").status_code == 404
    for value in [*credentials.values(), *headers.values()]:
        assert value not in str(body)
