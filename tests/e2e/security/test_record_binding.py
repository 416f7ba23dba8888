"""A database writer against keyvault: every field keyvault decides on is authenticated, and an old
record put back is older than the version floor keyvault keeps outside the database.

The attacker has a direct MongoDB connection (`stack.mongodb_uri`), can write catalog's and
keyvault's collections, and holds an API key of a project the credential is not meant for. Each
attack is refused, audited, and no request reaches the provider with the credential.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from shared.stack import EmbeddedStack
from shared.vault import versions
from tests.conftest import PROVIDER_KEY, FakeServer, Org, bootstrap
from tests.e2e.nats_users import connect_as


@pytest.fixture
def mongo(stack: EmbeddedStack) -> Iterator[MongoClient[dict[str, Any]]]:
    """The attacker's direct database connection."""
    with MongoClient(stack.mongodb_uri) as client:
        yield client


def vault_records(mongo: MongoClient[dict[str, Any]]) -> Collection[dict[str, Any]]:
    return mongo["keyrelay_keyvault"]["credentials"]


def catalog_integrations(mongo: MongoClient[dict[str, Any]]) -> Collection[dict[str, Any]]:
    return mongo["keyrelay_catalog"]["integrations"]


def project(org: Org) -> str:
    response = org.owner.post("/projects", json={"name": f"p-{secrets.token_hex(3)}"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def complete(stack: EmbeddedStack, api_key: str, slug: str, marker: str) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
        json={"model": f"@{slug}/gpt-4o-mini", "messages": [{"role": "user", "content": marker}]},
    )


def upstream_saw(fake: FakeServer, marker: str) -> bool:
    return any(marker in str(record.get("body")) for record in fake.requests())


def refusals(org: Org, integration_id: str, timeout_s: float = 15.0) -> list[dict[str, Any]]:
    """keyvault's failed or denied decryption events about this integration, from the audit log."""
    deadline = time.monotonic() + timeout_s
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        page = org.owner.get("/audit", params={"limit": 200}).json()
        found = [
            event
            for event in page["data"]
            if event["target_id"] == integration_id
            and event["action"] == "credential.decrypt"
            and event["outcome"] in {"failed", "denied"}
        ]
        if found:
            return found
        time.sleep(0.3)
    return found


def assert_refused_and_audited(
    stack: EmbeddedStack, fake: FakeServer, org: Org, api_key: str, integration: dict[str, Any], secret: str, error: str
) -> dict[str, Any]:
    """A request needing the integration's credential is refused, shows no secret, never reaches the
    provider, and keyvault's refused decryption is audited with `error` (the event is returned)."""
    slug = integration["slug"]
    marker = f"{slug}-" + secrets.token_hex(6)
    response = complete(stack, api_key, slug, marker)
    assert response.status_code >= 400, response.text
    assert secret not in response.text
    assert not upstream_saw(fake, marker)
    events = refusals(org, integration["id"])
    assert events, "the refused decryption is audited"
    assert events[0]["detail"]["error"] == error
    return events[0]


def test_flipping_a_single_project_credential_to_all_does_not_reveal_it_to_another_project(
    stack: EmbeddedStack, fake: FakeServer, mongo: MongoClient[dict[str, Any]]
) -> None:
    """`project_scope` set to `all` in both databases: the other project's request is refused and audited."""
    org = bootstrap(stack)
    created = org.integration("single-project", project_scope=[org.project_id])
    other_key = org.api_key(project(org))
    for collection in (vault_records(mongo), catalog_integrations(mongo)):
        result = collection.update_one({"_id": created["id"]}, {"$set": {"project_scope": "all"}})
        assert result.modified_count == 1
    assert_refused_and_audited(stack, fake, org, other_key, created, PROVIDER_KEY, "CiphertextMismatch")


def test_an_old_version_of_a_rotated_credential_written_back_is_refused_and_audited(
    stack: EmbeddedStack, fake: FakeServer, mongo: MongoClient[dict[str, Any]]
) -> None:
    """The pre-rotation record still authenticates (keyvault wrote it), but it is below the version floor."""
    org = bootstrap(stack)
    old_key = "sk-old-" + secrets.token_hex(12)
    fake.add_key("openai", old_key)
    created = org.integration("rotated", provider_key=old_key)
    old_record = vault_records(mongo).find_one({"_id": created["id"]})
    assert old_record is not None
    rotated = org.owner.put("/integrations/rotated/credentials", json={"credentials": {"api_key": PROVIDER_KEY}})
    assert rotated.status_code == 200, rotated.text
    fresh_key = org.api_key(project(org))  # a project whose reveal no gateway has cached
    assert vault_records(mongo).replace_one({"_id": created["id"]}, old_record).modified_count == 1
    event = assert_refused_and_audited(stack, fake, org, fresh_key, created, old_key, "RolledBack")
    assert int(event["detail"]["version"]) < int(event["detail"]["floor"])


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"provider": "groq"}, "CiphertextMismatch"),
        ({"base_url": "http://127.0.0.1:9/attacker/v1"}, "CiphertextMismatch"),
        ({"envelope.kek_id": "kek-attacker"}, "UnknownKek"),
        ({"version": 99}, "CiphertextMismatch"),
    ],
    ids=["provider", "base-url", "kek-id", "version"],
)
def test_tampering_with_a_records_provider_base_url_kek_id_or_version_is_refused(
    stack: EmbeddedStack,
    fake: FakeServer,
    mongo: MongoClient[dict[str, Any]],
    changes: dict[str, Any],
    error: str,
) -> None:
    """Whatever keyvault decides on is authenticated: changed behind its back, nothing is revealed."""
    org = bootstrap(stack)
    created = org.integration("tampered")
    api_key = org.api_key()
    assert vault_records(mongo).update_one({"_id": created["id"]}, {"$set": changes}).modified_count == 1
    assert_refused_and_audited(stack, fake, org, api_key, created, PROVIDER_KEY, error)


@pytest.mark.parametrize("user", ["catalog", "activity", "gateway"])
def test_only_keyvaults_own_database_user_can_read_or_write_the_credential_records(
    stack: EmbeddedStack, user: str
) -> None:
    """SecantusDB runs with `--auth`: another service's user (or the gateway, which has none) gets nothing."""
    with MongoClient(stack.service_mongodb_uri(user), serverSelectionTimeoutMS=5000) as client:
        records = client["keyrelay_keyvault"]["credentials"]
        with pytest.raises(OperationFailure):
            records.find_one()
        with pytest.raises(OperationFailure):
            records.update_many({}, {"$set": {"project_scope": "all"}})
    with MongoClient(stack.service_mongodb_uri("keyvault"), serverSelectionTimeoutMS=5000) as client:
        assert client["keyrelay_keyvault"]["credentials"].estimated_document_count() >= 0
        with pytest.raises(OperationFailure):
            client["keyrelay_catalog"]["integrations"].find_one()


@pytest.mark.parametrize("user", ["gateway", "catalog", "activity"])
async def test_no_other_service_can_lower_a_version_floor(stack: EmbeddedStack, user: str) -> None:
    """The floors live in a JetStream KV bucket only keyvault (and the operator) may write or read."""
    errors: list[str] = []
    nc = await connect_as(stack, user, errors)
    try:
        with pytest.raises((NoRespondersError, NatsTimeoutError, TimeoutError)):
            await nc.request(f"$KV.{versions.BUCKET}.int_attacked", b"0", timeout=0.5)
        with pytest.raises(Exception):  # noqa: B017, PT011 - refused in whichever way the client reports it
            await nc.jetstream().key_value(versions.BUCKET)
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    assert any("permissions violation" in e and "publish" in e for e in errors), errors
