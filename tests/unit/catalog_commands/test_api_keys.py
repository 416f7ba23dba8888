"""Project API keys: created by project admins (hash and prefix only), limited, revoked for good."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World, create_key


async def test_a_project_admin_creates_a_key_and_only_its_prefix_is_shown(world: World) -> None:
    admin = await world.member("admin@acme.test", role="admin")
    naive = datetime(2030, 1, 1)  # noqa: DTZ001 - a naive expiry is read as UTC
    command = create_key(world.project_id, "ci", models=["gpt-4o"], rpm=10, expires_at=naive)
    body = await world.created(admin, command)
    assert body["prefix"] == command.key_prefix
    assert "key_hash" not in body
    assert (body["models"], body["rpm"], body["revoked"]) == (["gpt-4o"], 10, False)
    assert body["expires_at"] == "2030-01-01T00:00:00+00:00"
    assert world.events.actions[-1] == "api_key.create"


async def test_a_key_needs_a_real_prefix_an_existing_project_and_a_name(world: World) -> None:
    cases = [
        (m.CreateApiKey(project_id=world.project_id, name="k", key_hash="0" * 64, key_prefix="sk-12345"), "key_prefix"),
        (create_key("prj_missing"), "project_id"),
        (create_key(world.project_id, name=" "), "name"),
        (create_key(world.project_id, models=["x" * 201]), "models"),
    ]
    for command, param in cases:
        with pytest.raises(KeyrelayError) as caught:
            await world.run(world.owner, command)
        assert caught.value.param == param


async def test_a_developer_cannot_create_keys_and_sees_only_their_projects_keys(world: World) -> None:
    other = await world.project("Other")
    await world.created(world.owner, create_key(world.project_id, "mine"))
    await world.created(world.owner, create_key(other, "theirs"))
    dev = await world.member("dev@acme.test")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(dev, create_key(world.project_id))
    assert caught.value.code == "forbidden"
    assert [k["name"] for k in (await world.ok(dev, m.ListApiKeys()))["data"]] == ["mine"]
    assert len((await world.ok(world.owner, m.ListApiKeys()))["data"]) == 2
    assert [k["name"] for k in (await world.ok(world.owner, m.ListApiKeys(project_id=other)))["data"]] == ["theirs"]


async def test_an_update_changes_limits_and_tells_gateways_to_drop_the_cached_key(world: World) -> None:
    key = await world.created(world.owner, create_key(world.project_id))
    body = await world.ok(world.owner, m.UpdateApiKey(api_key_id=key["id"], name="renamed", budget_usd=2.5))
    assert (body["name"], body["budget_usd"], body["budget_period"]) == ("renamed", 2.5, "month")
    assert world.events.changes[-1] == (world.owner.org_id, "api_key", (key["id"],))


async def test_an_admin_of_another_project_cannot_touch_a_key(world: World) -> None:
    other = await world.project("Other")
    key = await world.created(world.owner, create_key(world.project_id))
    outsider = await world.member("admin@acme.test", role="admin", project_id=other)
    for command in (m.UpdateApiKey(api_key_id=key["id"], name="x"), m.DeleteApiKey(api_key_id=key["id"])):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(outsider, command)
        assert caught.value.code == "forbidden"


async def test_a_revoked_key_stays_listed_as_revoked_and_no_longer_authenticates(world: World) -> None:
    command = create_key(world.project_id)
    key = await world.created(world.owner, command)
    await world.done(world.owner, m.DeleteApiKey(api_key_id=key["id"]))
    assert (await world.ok(world.owner, m.ListApiKeys()))["data"][0]["revoked"] is True
    assert world.events.actions[-1] == "api_key.revoke"
    stored = await world.store.api_key_by_hash(command.key_hash)
    assert stored is not None
    assert stored["revoked_at"] is not None


async def test_changing_a_missing_key_is_not_found(world: World) -> None:
    for command in (m.UpdateApiKey(api_key_id="key_nope", name="x"), m.DeleteApiKey(api_key_id="key_nope")):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(world.owner, command)
        assert (caught.value.code, caught.value.param) == ("not_found", "api_key_id")
