"""Virtual models: named aliases over `@slug/model`, org-wide (owners) or per project (its admins)."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World


def put(name: str, project_id: str | None = None, *, create_only: bool = False, **spec: object) -> m.PutVirtualModel:
    targets = spec.pop("targets", [m.VirtualTarget(model="@main/gpt-4.1")])
    return m.PutVirtualModel(
        spec=m.VirtualModelSpec(name=name, project_id=project_id, targets=targets, **spec),  # type: ignore[arg-type]
        create_only=create_only,
    )


async def test_a_put_creates_then_replaces_a_virtual_model(world: World) -> None:
    created = await world.created(world.owner, put("smart"))
    replaced = await world.ok(world.owner, put("smart", strategy="loadbalance"))
    assert (created["strategy"], replaced["strategy"]) == ("fallback", "loadbalance")
    assert world.events.actions == ["virtual_model.put", "virtual_model.put"]
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, put("smart", create_only=True))
    assert caught.value.code == "conflict"


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (put("Bad Name"), "invalid_request"),
        (put("@slug"), "invalid_request"),
        (put("empty", targets=[]), "invalid_request"),
        (put("bare", targets=[m.VirtualTarget(model="gpt-4.1")]), "invalid_model"),
        (put("orphan", project_id="prj_missing"), "not_found"),
        (put("cfg", config="no-such-config"), "not_found"),
    ],
)
async def test_an_invalid_virtual_model_is_refused(world: World, command: m.PutVirtualModel, code: str) -> None:
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, command)
    assert caught.value.code == code


async def test_a_project_admin_manages_their_projects_virtual_models_but_not_org_wide_ones(world: World) -> None:
    admin = await world.member("admin@acme.test", role="admin")
    await world.created(admin, put("mine", world.project_id))
    with pytest.raises(KeyrelayError) as org_wide:
        await world.run(admin, put("everyone"))
    assert org_wide.value.code == "owner_required"
    await world.done(admin, m.DeleteVirtualModel(name="mine"))


async def test_a_project_admin_cannot_move_a_virtual_model_to_another_project(world: World) -> None:
    other = await world.project("Other")
    admin = await world.member("admin@acme.test", role="admin")
    await world.created(admin, put("mine", world.project_id))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(admin, put("mine", other))
    assert caught.value.code in {"forbidden", "owner_required"}
    assert (await world.ok(world.owner, m.GetVirtualModel(name="mine")))["project_id"] == world.project_id


async def test_members_see_org_wide_and_their_projects_virtual_models_only(world: World) -> None:
    other = await world.project("Other")
    await world.created(world.owner, put("everyone"))
    await world.created(world.owner, put("theirs", other))
    dev = await world.member("dev@acme.test")
    assert [v["name"] for v in (await world.ok(dev, m.ListVirtualModels()))["data"]] == ["everyone"]
    with pytest.raises(KeyrelayError) as caught:
        await world.run(dev, m.GetVirtualModel(name="theirs"))
    assert (caught.value.code, caught.value.param) == ("not_found", "name")


async def test_a_project_virtual_model_may_use_org_wide_configs_but_not_another_projects(world: World) -> None:
    await world.integration("main")
    other = await world.project("Other")
    node = m.ConfigNode(targets=[m.ConfigTarget(integration="main")])
    await world.created(world.owner, m.PutConfig(name="shared-cfg", node=node))
    await world.created(world.owner, m.PutConfig(name="other-cfg", node=node, project_id=other))
    await world.created(world.owner, put("uses-shared", world.project_id, config="shared-cfg", targets=[]))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, put("uses-other", world.project_id, config="other-cfg", targets=[]))
    assert (caught.value.code, caught.value.param) == ("not_found", "config")


async def test_a_deleted_virtual_model_is_gone(world: World) -> None:
    await world.created(world.owner, put("smart"))
    await world.done(world.owner, m.DeleteVirtualModel(name="smart"))
    assert world.events.actions[-1] == "virtual_model.delete"
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.DeleteVirtualModel(name="smart"))
    assert caught.value.code == "not_found"
