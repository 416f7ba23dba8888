"""`PATCH /api/v1/integrations/{slug}` moves an integration to a custom host and changes its custom
headers; keyvault re-binds the stored key to the new base URL, and only owners may do it."""

from __future__ import annotations

import secrets

import httpx
import openai

from shared.stack import EmbeddedStack
from tests.conftest import PROVIDER_KEY, FakeServer, Org, bootstrap


def _complete(org: Org, key: str, model: str, test_id: str) -> str:
    sdk = openai.OpenAI(base_url=f"{org.stack.gateway_url}/v1", api_key=key, max_retries=0)
    answer = sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": test_id}])
    return answer.choices[0].message.content or ""


def _recorded(fake: FakeServer, test_id: str) -> list[dict[str, object]]:
    """The requests the fake received whose prompt was `test_id`."""
    return [r for r in fake.requests() if test_id in str(r.get("body"))]


def test_an_owner_moves_an_integration_to_a_custom_host_and_the_stored_key_follows(
    stack: EmbeddedStack, fake: FakeServer
) -> None:
    """After the PATCH, requests go to the new host with the same stored key (re-bound by keyvault)."""
    org = bootstrap(stack)
    org.integration("move-me")
    key = org.api_key()
    fake.add_key("groq", PROVIDER_KEY)
    before = f"before-{secrets.token_hex(4)}"
    assert _complete(org, key, "@move-me/gpt-4o-mini", before)
    assert [r["path"] for r in _recorded(fake, before)] == ["/openai/v1/chat/completions"]

    host = {"base_url": f"{fake.root}/groq/openai/v1", "api_format": "openai"}
    patched = org.owner.patch("/integrations/move-me", json={"custom_host": host})
    assert patched.status_code == 200, patched.text
    assert patched.json()["custom_host"]["base_url"] == host["base_url"]
    assert PROVIDER_KEY not in patched.text

    after = f"after-{secrets.token_hex(4)}"
    assert _complete(org, key, "@move-me/gpt-4o-mini", after)
    assert [r["path"] for r in _recorded(fake, after)] == ["/groq/openai/v1/chat/completions"]


def test_an_owner_changes_custom_headers_and_the_next_request_carries_them(
    stack: EmbeddedStack, fake: FakeServer
) -> None:
    """New header values are sealed to keyvault; the read shows names only; the key is kept."""
    org = bootstrap(stack)
    org.integration("with-headers")
    key = org.api_key()
    value = "team-" + secrets.token_hex(8)
    patched = org.owner.patch("/integrations/with-headers", json={"custom_headers": {"x-team": value}})
    assert patched.status_code == 200, patched.text
    assert value not in patched.text
    assert "x-team" in str(patched.json()["custom_headers"])

    test_id = f"hdr-{secrets.token_hex(4)}"
    assert _complete(org, key, "@with-headers/gpt-4o-mini", test_id)
    (seen,) = _recorded(fake, test_id)
    assert "x-team" in seen["header_names"]  # type: ignore[operator]

    cleared = org.owner.patch("/integrations/with-headers", json={"custom_headers": {}})
    assert cleared.status_code == 200, cleared.text
    again = f"hdr-{secrets.token_hex(4)}"
    assert _complete(org, key, "@with-headers/gpt-4o-mini", again)
    (seen,) = _recorded(fake, again)
    assert "x-team" not in seen["header_names"]  # type: ignore[operator]


def test_a_member_cannot_move_an_integration_or_change_its_headers(stack: EmbeddedStack, fake: FakeServer) -> None:
    """A project admin gets 403 for either change and the integration still calls the same host."""
    org = bootstrap(stack)
    org.integration("owners-only")
    email = f"a-{secrets.token_hex(3)}@example.com"
    member = org.owner.post(
        "/members", json={"email": email, "org_role": "member", "projects": {org.project_id: "admin"}}
    )
    assert member.status_code == 201, member.text
    admin = httpx.Client(
        base_url=f"{stack.gateway_url}/api/v1",
        headers={"authorization": f"Bearer {member.json()['token']}"},
        timeout=30,
    )
    host = {"base_url": f"{fake.root}/groq/openai/v1", "api_format": "openai"}
    for body in ({"custom_host": host}, {"custom_headers": {"x-team": "red"}}):
        refused = admin.patch("/integrations/owners-only", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"]
    read = org.owner.get("/integrations/owners-only").json()
    assert read["custom_host"] is None
    assert not read["custom_headers"]
