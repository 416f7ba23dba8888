"""Vertex service-account auth: signed JWT, cached tokens, refresh near expiry and after a 401."""

from __future__ import annotations

import msgspec
import pytest

from gateway.providers.base import Credential, ProviderError
from gateway.providers.google_auth import AccessTokens
from shared.secret import Secret
from tests.fakes.providers.families.vertex import TOKEN_PATH
from tests.unit.providers.conftest import CASES, FAST, chat_input, credential_for, target_for, user

VERTEX = next(c for c in CASES if c.adapter == "vertex")


def sa_credential(info: dict[str, str]) -> Credential:
    return Credential(service_account_json=Secret(msgspec.json.encode(info).decode()))


async def test_tokens_are_cached_per_service_account(fake, session, service_account):
    """Two calls, one token request."""
    tokens = AccessTokens(session, "vertex")
    fake.clear_requests()
    first = await tokens.token(sa_credential(service_account), FAST)
    second = await tokens.token(sa_credential(service_account), FAST)
    assert first == second
    assert len(fake.requests("vertex-token")) == 1


async def test_a_token_close_to_expiry_is_refreshed(fake, session):
    """A token with less than the refresh margin left is replaced before use."""
    fake.options.token_expires_in = 60
    try:
        account = fake.new_service_account("proj-short")
        tokens = AccessTokens(session, "vertex")
        fake.clear_requests()
        await tokens.token(sa_credential(account), FAST)
        await tokens.token(sa_credential(account), FAST)
        assert len(fake.requests("vertex-token")) == 2
    finally:
        fake.options.token_expires_in = 3599


async def test_a_401_drops_the_token_and_retries_once(adapters, fake, service_account):
    """The fake forgets every token: the adapter gets a new one and the call still succeeds."""
    await adapters["vertex"].chat(
        chat_input(user()), target_for(fake, VERTEX), credential_for(VERTEX, service_account), FAST
    )
    fake.expire_tokens()
    fake.clear_requests()
    result = await adapters["vertex"].chat(
        chat_input(user()), target_for(fake, VERTEX), credential_for(VERTEX, service_account), FAST
    )
    assert result.body.choices[0].message.content == "echo: hi there"
    assert len(fake.requests("vertex-token")) == 1
    assert [r.auth_ok for r in fake.requests("vertex")] == [False, True]


async def test_an_unknown_service_account_is_upstream_auth_failed(fake, session):
    """A key the token endpoint does not know (invalid_grant) is an auth failure, not a bad request."""
    from tests.fakes.providers.service_accounts import generate_service_account  # noqa: PLC0415

    stranger = generate_service_account(fake.root + TOKEN_PATH).info
    with pytest.raises(ProviderError) as caught:
        await AccessTokens(session, "vertex").token(sa_credential(stranger), FAST)
    assert caught.value.code == "upstream_auth_failed"
    assert stranger["private_key"][40:80] not in caught.value.message


async def test_a_broken_key_file_is_upstream_auth_failed_without_echoing_it(session):
    """Not JSON, or no usable RSA key: a short message, no content."""
    for raw in ("not json", '{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\\nAAAA"}'):
        with pytest.raises(ProviderError) as caught:
            await AccessTokens(session, "vertex").token(Credential(service_account_json=Secret(raw)), FAST)
        assert caught.value.code == "upstream_auth_failed"
        assert "AAAA" not in caught.value.message


async def test_the_token_endpoint_override_wins_over_the_key_file(fake, session):
    """`vertex-token` override: the key file's token_uri is ignored (and used as the JWT audience)."""
    account = {**fake.new_service_account("proj-override"), "token_uri": "https://oauth2.invalid/token"}
    tokens = AccessTokens(session, "vertex", fake.root + TOKEN_PATH)
    assert await tokens.token(sa_credential(account), FAST)
