"""Issue 10, item 5: an expired or revoked API key is refused on the very next request, even while
the gateway still holds its principal in the cache (principal TTL: 30 s by default)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import Org, bootstrap

EXPIRES_IN_S = 2.0


@pytest.fixture(scope="module")
def keys_org(stack: EmbeddedStack) -> Org:
    created = bootstrap(stack)
    created.integration(f"keys-{secrets.token_hex(3)}")
    return created


def _models(stack: EmbeddedStack, key: str) -> httpx.Response:
    return httpx.get(f"{stack.gateway_url}/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=10)


def _key(org: Org, **extra: object) -> tuple[str, str]:
    created = org.owner.post("/api-keys", json={"project_id": org.project_id, "name": "short", **extra})
    assert created.status_code == 201, created.text
    return created.json()["key"], created.json()["id"]


def test_an_expired_key_is_refused_on_the_next_request_while_still_cached(keys_org: Org) -> None:
    org = keys_org
    expires_at = datetime.now(UTC) + timedelta(seconds=EXPIRES_IN_S)
    key, _ = _key(org, expires_at=expires_at.isoformat())
    assert _models(org.stack, key).status_code == 200  # authenticated and now cached for 30 s
    assert _models(org.stack, key).status_code == 200
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.2)
    refused = _models(org.stack, key)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert key not in refused.text


def test_a_key_patched_to_expire_in_the_past_is_refused_at_once(keys_org: Org) -> None:
    org = keys_org
    key, key_id = _key(org)
    assert _models(org.stack, key).status_code == 200
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert org.owner.patch(f"/api-keys/{key_id}", json={"expires_at": past}).status_code == 200
    assert _models(org.stack, key).status_code == 401


def test_a_revoked_key_is_refused_at_once_by_its_projects_admin(keys_org: Org) -> None:
    org = keys_org
    admin = org.owner.post(
        "/members",
        json={"email": f"adm-{secrets.token_hex(3)}@example.com", "projects": {org.project_id: "admin"}},
    ).json()["token"]
    key, key_id = _key(org)
    assert _models(org.stack, key).status_code == 200
    revoked = httpx.delete(
        f"{org.stack.gateway_url}/api/v1/api-keys/{key_id}", headers={"authorization": f"Bearer {admin}"}, timeout=10
    )
    assert revoked.status_code == 204, revoked.text
    refused = _models(org.stack, key)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "invalid_api_key"
