"""Gateway configs: each change is a new immutable version; a rollback re-points to an old one."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World


def node(*slugs: str, **extra: object) -> m.ConfigNode:
    return m.ConfigNode(targets=[m.ConfigTarget(integration=s) for s in slugs], **extra)  # type: ignore[arg-type]


async def test_each_put_adds_a_version_and_a_rollback_re_points(world: World) -> None:
    await world.integration("main")
    await world.integration("backup")
    first = await world.created(world.owner, m.PutConfig(name="prod", node=node("main")))
    second = await world.ok(world.owner, m.PutConfig(name="prod", node=node("main", "backup")))
    back = await world.ok(world.owner, m.PutConfig(name="prod", rollback_to=1))
    assert (first["version"], second["version"], back["version"]) == (1, 2, 1)
    assert [v["version"] for v in back["versions"]] == [1, 2]
    assert back["config"]["targets"][0]["integration"] == "main"
    assert world.events.actions[-3:] == ["config.put", "config.put", "config.rollback"]
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.PutConfig(name="prod", rollback_to=9))
    assert (caught.value.code, caught.value.param) == ("not_found", "rollback_to")


@pytest.mark.parametrize(
    ("config", "code"),
    [
        (node("nope"), "integration_not_found"),
        (node(), "invalid_request"),
        (node("main", retry=m.RetryPolicy(attempts=11)), "invalid_request"),
        (node("main", timeout_ms=3_600_001), "invalid_request"),
        (
            node("main", strategy=m.Strategy(mode="conditional", conditions=[m.Condition(field="model", then=3)])),
            "invalid_request",
        ),
    ],
)
async def test_an_invalid_config_tree_is_refused(world: World, config: m.ConfigNode, code: str) -> None:
    await world.integration("main")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.PutConfig(name="prod", node=config))
    assert caught.value.code == code


async def test_configs_nest_at_most_four_levels(world: World) -> None:
    await world.integration("main")
    tree = node("main")
    for _ in range(5):
        tree = m.ConfigNode(targets=[m.ConfigTarget(node=tree)])
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.PutConfig(name="deep", node=tree))
    assert "at most 4 levels" in caught.value.message


async def test_a_bad_name_a_missing_body_and_a_second_create_are_refused(world: World) -> None:
    await world.integration("main")
    await world.created(world.owner, m.PutConfig(name="prod", node=node("main")))
    for command, code in (
        (m.PutConfig(name="Bad Name", node=node("main")), "invalid_request"),
        (m.PutConfig(name="prod"), "invalid_request"),
        (m.PutConfig(name="prod", node=node("main"), create_only=True), "conflict"),
    ):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(world.owner, command)
        assert caught.value.code == code


async def test_a_project_admin_keeps_configs_in_their_project_and_cannot_move_them(world: World) -> None:
    await world.integration("main")
    other = await world.project("Other")
    admin = await world.member("admin@acme.test", role="admin")
    await world.created(admin, m.PutConfig(name="mine", node=node("main"), project_id=world.project_id))
    kept = await world.ok(admin, m.PutConfig(name="mine", node=node("main")))  # no project_id: stays put
    assert kept["project_id"] == world.project_id
    with pytest.raises(KeyrelayError) as moved:
        await world.run(admin, m.PutConfig(name="mine", node=node("main"), project_id=other))
    with pytest.raises(KeyrelayError) as org_wide:
        await world.run(admin, m.PutConfig(name="everyone", node=node("main")))
    assert moved.value.code in {"forbidden", "owner_required"}
    assert org_wide.value.code == "owner_required"


async def test_members_see_org_wide_and_their_projects_configs_only(world: World) -> None:
    await world.integration("main")
    other = await world.project("Other")
    await world.created(world.owner, m.PutConfig(name="everyone", node=node("main")))
    await world.created(world.owner, m.PutConfig(name="theirs", node=node("main"), project_id=other))
    dev = await world.member("dev@acme.test")
    assert [c["name"] for c in (await world.ok(dev, m.ListConfigs()))["data"]] == ["everyone"]
    for command in (m.GetConfig(name="theirs"), m.DeleteConfig(name="theirs")):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(dev, command)
        assert caught.value.code == "not_found"


async def test_a_deleted_config_is_gone(world: World) -> None:
    await world.integration("main")
    await world.created(world.owner, m.PutConfig(name="prod", node=node("main")))
    await world.done(world.owner, m.DeleteConfig(name="prod"))
    assert world.events.actions[-1] == "config.delete"
    assert await world.store.configs.get(world.owner.org_id, name="prod") is None
