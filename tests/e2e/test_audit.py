"""`GET /api/v1/audit`: who did what to which integration and credential, never a secret."""

from __future__ import annotations

import secrets
import time

import httpx

from shared.stack import EmbeddedStack
from tests.conftest import bootstrap
from tests.e2e.test_management import client


def test_the_audit_log_records_credential_changes_and_refusals_without_secrets(stack: EmbeddedStack) -> None:
    """Create, rotate, a developer's refused delete and a decryption all appear; the key never does."""
    org = bootstrap(stack)
    canary = "sk-canary-audit-" + secrets.token_hex(12)
    org.integration("audited", provider_key=canary)
    assert (
        org.owner.put("/integrations/audited/credentials", json={"credentials": {"api_key": canary + "2"}}).status_code
        == 200
    )
    developer = org.owner.post(
        "/members", json={"email": "dev@example.com", "projects": {org.project_id: "developer"}}
    ).json()["token"]
    refused = client(stack, developer).delete("/integrations/audited")
    assert refused.status_code == 403
    key = org.api_key()
    httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
        json={"model": "@audited/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    )
    wanted = {"credential.create", "credential.update", "credential.decrypt", "DeleteIntegration.denied"}
    deadline = time.monotonic() + 15
    actions: set[str] = set()
    page = {}
    while time.monotonic() < deadline and not wanted <= actions:
        page = org.owner.get("/audit", params={"limit": 200}).json()
        actions = {event["action"] for event in page["data"]}
        time.sleep(0.3)
    assert wanted <= actions, actions
    text = str(page)
    assert canary not in text
    assert canary[-12:] not in text  # the random part, in any 12-character window of it
    assert client(stack, developer).get("/audit").status_code == 403
