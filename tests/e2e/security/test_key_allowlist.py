"""A key restricted to some models cannot reach others through a gateway config it picks itself.

The attacker holds a real API key whose allowlist names only `@cheap/gpt-4o-mini`, and sends the
`x-keyrelay-config` header naming an org config whose first target is another integration.
"""

from __future__ import annotations

import secrets

import httpx

from shared.stack import EmbeddedStack
from tests.conftest import bootstrap, wait_for_record


def test_a_restricted_key_cannot_reach_another_integration_through_a_config_header(stack: EmbeddedStack) -> None:
    org = bootstrap(stack)
    org.integration("premium")
    org.integration("cheap")
    name = f"cfg-{secrets.token_hex(3)}"
    response = org.owner.put(
        f"/configs/{name}",
        json={
            "targets": [
                {"integration": "premium", "model": "gpt-4o-mini"},
                {"integration": "cheap", "model": "gpt-4o-mini"},
            ]
        },
    )
    assert response.status_code in (200, 201), response.text
    key = org.api_key(models=["@cheap/gpt-4o-mini"])
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers={"authorization": f"Bearer {key}"}) as http:
        answer = http.post(
            "/v1/chat/completions",
            json={"model": "@cheap/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-keyrelay-config": name},
        )
        assert answer.status_code == 200, answer.text
        record = wait_for_record(stack, answer.headers["x-request-id"])
        assert [attempt["integration"] for attempt in record["attempts"]] == ["cheap"]

        named_premium = http.post(
            "/v1/chat/completions",
            json={"model": "@premium/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-keyrelay-config": name},
        )
        assert named_premium.status_code == 200, named_premium.text
        record = wait_for_record(stack, named_premium.headers["x-request-id"])
        assert [attempt["integration"] for attempt in record["attempts"]] == ["cheap"]
