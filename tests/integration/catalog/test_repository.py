"""Catalog's repository against a real SecantusDB, and the unit tests' in-memory store held to the
same behaviour: each test runs against both."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from catalog.repository import CatalogRepository, Store, now
from shared.errors import KeyrelayError
from shared.tokens import new_id
from tests.unit.catalog_commands.memory import MemoryStore

ORG, OTHER_ORG = "org_a", "org_b"


@pytest.fixture(params=["mongodb", "memory"])
async def store(request: pytest.FixtureRequest, catalog_mongo_uri: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(catalog_mongo_uri, tz_aware=True)
    repo = CatalogRepository(client, f"catalog_{secrets.token_hex(4)}")
    await repo.ensure_indexes()
    try:
        yield repo
    finally:
        await client.close()


def doc(prefix: str, org_id: str = ORG, **fields: Any) -> dict[str, Any]:
    return {"_id": new_id(prefix), "org_id": org_id, "created_at": now(), **fields}


async def test_a_second_document_with_a_unique_name_is_a_conflict_worded_by_the_caller(store: Store) -> None:
    await store.projects.insert(doc("prj", name="Search"))
    await store.projects.insert(doc("prj", OTHER_ORG, name="Search"))  # unique per org only
    with pytest.raises(KeyrelayError) as caught:
        await store.projects.insert(doc("prj", name="Search"), what="a project with this name")
    assert (caught.value.code, caught.value.message) == ("conflict", "a project with this name already exists")
    await store.integrations.insert(doc("int", slug="a"), conflict_code="slug_taken")
    with pytest.raises(KeyrelayError) as slug:
        await store.integrations.insert(doc("int", slug="a"), conflict_code="slug_taken")
    assert slug.value.code == "slug_taken"


async def test_an_update_onto_a_taken_name_is_a_conflict_and_a_missing_document_is_none(store: Store) -> None:
    first, second = doc("prj", name="one"), doc("prj", name="two")
    await store.projects.insert(first)
    await store.projects.insert(second)
    with pytest.raises(KeyrelayError) as caught:
        await store.projects.update(ORG, {"_id": second["_id"]}, {"name": "one"}, what="a project with this name")
    assert caught.value.code == "conflict"
    assert await store.projects.update(ORG, {"_id": "prj_missing"}, {"name": "x"}) is None
    updated = await store.projects.update(ORG, {"_id": second["_id"]}, {"name": "three"})
    assert updated is not None
    assert (updated["name"], isinstance(updated["updated_at"], datetime)) == ("three", True)


async def test_no_read_or_write_crosses_into_another_org(store: Store) -> None:
    theirs = doc("vm", OTHER_ORG, name="smart", project_id=None)
    await store.virtual_models.insert(theirs)
    assert await store.virtual_models.get(ORG, _id=theirs["_id"]) is None
    assert await store.virtual_models.list(ORG) == []
    assert await store.virtual_models.count(ORG) == 0
    assert await store.virtual_models.existing_ids(ORG, [theirs["_id"]]) == set()
    assert await store.virtual_models.update(ORG, {"_id": theirs["_id"]}, {"name": "x"}) is None
    assert await store.virtual_models.delete(ORG, _id=theirs["_id"]) is False
    assert (await store.virtual_models.get(OTHER_ORG, _id=theirs["_id"]) or {})["name"] == "smart"


async def test_lists_come_in_creation_order_and_matches_are_equalities(store: Store) -> None:
    start = datetime.now(UTC)
    for i, project in enumerate(["p2", "p1", "p2"]):
        key = doc("key", key_hash=secrets.token_hex(8), project_id=project, revoked_at=None)
        await store.api_keys.insert({**key, "created_at": start - timedelta(seconds=i)})
    listed = await store.api_keys.list(ORG, project_id="p2")
    assert [d["created_at"] for d in listed] == sorted(d["created_at"] for d in listed)
    assert len(listed) == 2
    assert await store.api_keys.count(ORG, project_id="p1", revoked_at=None) == 1


async def test_a_config_version_is_pushed_only_while_the_config_is_where_it_was_authorised(store: Store) -> None:
    config = doc("cfg", name="prod", project_id="p1", current_version=1, versions=[{"version": 1, "node": {}}])
    await store.configs.insert(config)
    version = {"version": 2, "node": {"targets": []}}
    assert await store.push_config_version(ORG, config["_id"], "p2", version, "p2") is None
    pushed = await store.push_config_version(ORG, config["_id"], "p1", version, None)
    assert pushed is not None
    assert (pushed["current_version"], pushed["project_id"], len(pushed["versions"])) == (2, None, 2)


async def test_a_custom_model_slug_is_added_once_and_removed_once(store: Store) -> None:
    integration = doc("int", slug="main", custom_models=[], status="active", project_scope="all")
    await store.integrations.insert(integration)
    entry = {"slug": "tuned", "base_model": None, "custom_host": None, "pricing": {}}
    assert await store.add_custom_model(ORG, integration["_id"], entry) is True
    assert await store.add_custom_model(ORG, integration["_id"], entry) is False
    assert await store.remove_custom_model(ORG, integration["_id"], "tuned") is True
    assert await store.remove_custom_model(ORG, integration["_id"], "tuned") is False


async def test_routing_reads_see_routable_integrations_and_project_configs_last(store: Store) -> None:
    for slug, status, scope in [
        ("a", "active", "all"),
        ("b", "error", ["p1"]),
        ("c", "pending", "all"),
        ("d", "active", ["p2"]),
    ]:
        await store.integrations.insert(doc("int", slug=slug, status=status, project_scope=scope))
    for name, project in [("mine", "p1"), ("shared", None), ("theirs", "p2")]:
        await store.configs.insert(doc("cfg", name=name, project_id=project))
    assert [d["slug"] for d in await store.routable_integrations(ORG, "p1")] == ["a", "b"]
    assert [d["name"] for d in await store.configs_for(ORG, "p1")] == ["shared", "mine"]


async def test_a_use_report_reactivates_only_on_success(store: Store) -> None:
    integration = doc("int", slug="main", status="error", project_scope="all")
    await store.integrations.insert(integration)
    await store.record_use(ORG, integration["_id"], {"last_error_class": "auth"}, reactivate=False)
    assert (await store.integrations.get(ORG, _id=integration["_id"]) or {})["status"] == "error"
    await store.record_use(ORG, integration["_id"], {"last_error_class": None}, reactivate=True)
    assert (await store.integrations.get(ORG, _id=integration["_id"]) or {})["status"] == "active"


async def test_an_email_has_one_password_and_sessions_are_found_by_hash(store: Store) -> None:
    password = {"_id": "mem_1", "org_id": ORG, "email": "a@b.test", "verifier": "v", "failures": 0}
    assert await store.insert_password(password) is True
    assert await store.insert_password({**password, "_id": "mem_2"}) is False
    await store.update_password("mem_1", {"failures": 3})
    assert (await store.password_by_email("a@b.test") or {})["failures"] == 3
    await store.delete_password("mem_1")
    assert await store.password_by_email("a@b.test") is None
    session = {"_id": "hash", "member_id": "mem_1", "org_id": ORG, "expires_at": now() + timedelta(hours=1)}
    await store.insert_session(session)
    assert (await store.session("hash") or {})["member_id"] == "mem_1"
    await store.delete_session("hash")
    assert await store.session("hash") is None
