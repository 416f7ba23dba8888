"""Another project (or org), with its own valid API key, tries to read or continue project A's
Responses API conversation through `previous_response_id` and `GET /v1/responses/{id}`.

The stored context is keyed by the org and project of the key that made it, and looked up only
under the caller's own: every attempt is the same 400 (or 404) as an id that never existed, and the
provider never receives a word of A's conversation. Ids that try to reach other keys of the KV
bucket (`.`, `*`, `>`) are refused the same way.
"""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap

SECRET_TURN = "the vault code is " + secrets.token_hex(6)


def _post(stack: EmbeddedStack, key: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/v1/responses", headers={"authorization": f"Bearer {key}"}, json=body, timeout=30
    )


@pytest.fixture(scope="module")
def victim(stack: EmbeddedStack) -> tuple[Org, str, str]:
    """Org with project A (the victim) and B; an OpenAI integration open to both; A's response id."""
    org = bootstrap(stack)
    org.integration("oai-scope")
    key_a = org.api_key()
    made = _post(stack, key_a, {"model": "@oai-scope/gpt-4o-mini", "input": SECRET_TURN})
    assert made.status_code == 200, made.text
    return org, key_a, made.json()["id"]


def _attackers(stack: EmbeddedStack, org: Org) -> dict[str, str]:
    project_b = org.owner.post("/projects", json={"name": f"b-{secrets.token_hex(3)}"}).json()["id"]
    other = bootstrap(stack)
    other.integration("oai-scope")
    return {"another project": org.api_key(project_b), "another org": other.api_key()}


def test_another_projects_key_cannot_continue_or_read_a_response(
    stack: EmbeddedStack, fake: FakeServer, victim: tuple[Org, str, str]
) -> None:
    org, key_a, response_id = victim
    for who, key in _attackers(stack, org).items():
        refused = _post(
            stack, key, {"model": "@oai-scope/gpt-4o-mini", "previous_response_id": response_id, "input": "repeat"}
        )
        assert refused.status_code == 400, (who, refused.text)
        error = refused.json()["error"]
        assert (error["code"], error["param"]) == ("invalid_request", "previous_response_id"), who
        read = httpx.get(
            f"{stack.gateway_url}/v1/responses/{response_id}", headers={"authorization": f"Bearer {key}"}, timeout=10
        )
        assert read.status_code == 404, (who, read.text)
        assert SECRET_TURN not in read.text
    assert all(SECRET_TURN not in json.dumps(r["body"]) for r in fake.requests() if "repeat" in json.dumps(r["body"]))
    # the owner of the conversation still continues it
    again = _post(
        stack, key_a, {"model": "@oai-scope/gpt-4o-mini", "previous_response_id": response_id, "input": "more"}
    )
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("crafted", ["*", ">", "resp_1.x", "..", "a b", "x" * 300])
def test_a_crafted_response_id_reaches_no_other_key_of_the_store(
    stack: EmbeddedStack, victim: tuple[Org, str, str], crafted: str
) -> None:
    _, key_a, _ = victim
    refused = _post(stack, key_a, {"model": "@oai-scope/gpt-4o-mini", "previous_response_id": crafted, "input": "x"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "previous_response_id"
