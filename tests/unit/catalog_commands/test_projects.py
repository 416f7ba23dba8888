"""Projects: owners create, rename, limit and delete them; members see only their own."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World, create_key


async def test_an_owner_creates_a_project_and_every_gateway_hears_of_it(world: World) -> None:
    body = await world.created(world.owner, m.CreateProject(name="  Search  ", rpm=60, budget_usd=5.0))
    assert body["name"] == "Search"
    assert (body["rpm"], body["tpm"], body["budget_usd"], body["budget_period"]) == (60, None, 5.0, "month")
    assert world.events.changes[-1] == (world.owner.org_id, "project", (body["id"],))
    assert world.events.actions == ["project.create"]


async def test_a_second_project_with_the_same_name_is_a_conflict(world: World) -> None:
    await world.project("Search")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.CreateProject(name="Search"))
    assert caught.value.code == "conflict"
    assert "a project with this name already exists" in caught.value.message


@pytest.mark.parametrize(
    ("command", "param"),
    [
        (m.CreateProject(name="   "), "name"),
        (m.CreateProject(name="a\x07b"), "name"),
        (m.CreateProject(name="ok", rpm=0), "rpm"),
        (m.CreateProject(name="ok", budget_usd=-1.0), "budget_usd"),
    ],
)
async def test_a_project_with_an_invalid_field_is_refused_naming_it(
    world: World, command: m.CreateProject, param: str
) -> None:
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, command)
    assert (caught.value.code, caught.value.param) == ("invalid_request", param)


async def test_a_member_lists_only_the_projects_they_belong_to(world: World) -> None:
    other = await world.project("Other")
    dev = await world.member("dev@acme.test")
    owner_view = await world.ok(world.owner, m.ListProjects())
    member_view = await world.ok(dev, m.ListProjects())
    assert {p["id"] for p in owner_view["data"]} == {world.project_id, other}
    assert [p["id"] for p in member_view["data"]] == [world.project_id]


async def test_a_member_cannot_read_a_project_they_are_not_in(world: World) -> None:
    other = await world.project("Other")
    dev = await world.member("dev@acme.test")
    assert (await world.ok(dev, m.GetProject(project_id=world.project_id)))["name"] == "default"
    with pytest.raises(KeyrelayError) as caught:
        await world.run(dev, m.GetProject(project_id=other))
    assert caught.value.code == "forbidden"


async def test_an_update_changes_only_the_named_fields(world: World) -> None:
    body = await world.ok(world.owner, m.UpdateProject(project_id=world.project_id, content_logging=True, tpm=1000))
    assert (body["name"], body["content_logging"], body["tpm"]) == ("default", True, 1000)
    assert world.events.actions == ["project.update"]


async def test_renaming_onto_another_projects_name_is_a_conflict(world: World) -> None:
    await world.project("Taken")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.UpdateProject(project_id=world.project_id, name="Taken"))
    assert caught.value.code == "conflict"


async def test_updating_or_deleting_a_missing_project_is_not_found(world: World) -> None:
    for command in (m.UpdateProject(project_id="prj_missing", name="x"), m.DeleteProject(project_id="prj_missing")):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(world.owner, command)
        assert (caught.value.code, caught.value.param) == ("not_found", "project_id")


async def test_a_project_with_live_api_keys_cannot_be_deleted_until_they_are_revoked(world: World) -> None:
    project_id = await world.project("Keys")
    key = await world.created(world.owner, create_key(project_id))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.DeleteProject(project_id=project_id))
    assert caught.value.code == "conflict"
    await world.done(world.owner, m.DeleteApiKey(api_key_id=key["id"]))
    await world.done(world.owner, m.DeleteProject(project_id=project_id))
    assert await world.store.projects.get(world.owner.org_id, _id=project_id) is None


async def test_only_owners_create_or_delete_projects(world: World) -> None:
    admin = await world.member("admin@acme.test", role="admin")
    for command in (m.CreateProject(name="Mine"), m.DeleteProject(project_id=world.project_id)):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(admin, command)
        assert caught.value.code == "owner_required"
