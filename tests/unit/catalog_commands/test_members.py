"""Members: owners invite, change roles and remove; an org always keeps an owner."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World, token_hash


async def test_an_invited_member_is_stored_with_the_token_hash_only_and_audited(world: World) -> None:
    hashed = token_hash()
    body = await world.created(
        world.owner,
        m.CreateMember(email=" Dev@Acme.TEST ", projects={world.project_id: "developer"}, token_hash=hashed),
    )
    assert (body["email"], body["org_role"], body["projects"]) == (
        "dev@acme.test",
        "member",
        {world.project_id: "developer"},
    )
    assert "token_hash" not in body
    assert (await world.store.member_by_token_hash(hashed) or {})["_id"] == body["id"]
    assert world.events.audits[-1]["action"] == "member.create"
    assert world.events.audits[-1]["detail"] == {"org_role": "member"}


async def test_inviting_an_email_twice_or_into_an_unknown_project_is_refused(world: World) -> None:
    await world.member("dev@acme.test")
    with pytest.raises(KeyrelayError) as twice:
        await world.run(world.owner, m.CreateMember(email="dev@acme.test", token_hash=token_hash()))
    with pytest.raises(KeyrelayError) as unknown:
        await world.run(
            world.owner, m.CreateMember(email="x@acme.test", projects={"prj_nope": "admin"}, token_hash=token_hash())
        )
    with pytest.raises(KeyrelayError) as bad_email:
        await world.run(world.owner, m.CreateMember(email="not-an-email", token_hash=token_hash()))
    assert twice.value.code == "conflict"
    assert (unknown.value.code, unknown.value.param) == ("not_found", "projects")
    assert (bad_email.value.code, bad_email.value.param) == ("invalid_request", "email")


async def test_a_member_lists_only_themself_and_an_owner_lists_everyone(world: World) -> None:
    dev = await world.member("dev@acme.test")
    await world.member("other@acme.test")
    assert [x["email"] for x in (await world.ok(dev, m.ListMembers()))["data"]] == ["dev@acme.test"]
    assert len((await world.ok(world.owner, m.ListMembers()))["data"]) == 3


async def test_an_owner_changes_a_members_projects_and_gateways_drop_their_cached_principal(world: World) -> None:
    dev = await world.member("dev@acme.test")
    other = await world.project("Other")
    body = await world.ok(world.owner, m.UpdateMember(member_id=dev.member_id, projects={other: "admin"}))
    assert body["projects"] == {other: "admin"}
    assert world.events.changes[-1] == (world.owner.org_id, "member", (dev.member_id,))


async def test_the_last_owner_cannot_be_demoted_but_one_of_two_can(world: World) -> None:
    second = await world.member("second@acme.test", org_role="owner")
    await world.ok(second, m.UpdateMember(member_id=world.owner.member_id, org_role="member"))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.UpdateMember(member_id=second.member_id, org_role="member"))
    assert caught.value.code == "conflict"
    assert "at least one owner" in caught.value.message


async def test_nobody_changes_their_own_role_or_removes_themself(world: World) -> None:
    with pytest.raises(KeyrelayError) as role:
        await world.run(world.owner, m.UpdateMember(member_id=world.owner.member_id, org_role="member"))
    with pytest.raises(KeyrelayError) as remove:
        await world.run(world.owner, m.DeleteMember(member_id=world.owner.member_id))
    assert role.value.code == remove.value.code == "forbidden"


async def test_a_removed_member_is_gone_and_removing_them_again_is_not_found(world: World) -> None:
    dev = await world.member("dev@acme.test")
    await world.done(world.owner, m.DeleteMember(member_id=dev.member_id))
    assert await world.store.member_by_id(dev.member_id) is None
    for command in (m.DeleteMember(member_id=dev.member_id), m.UpdateMember(member_id=dev.member_id, projects={})):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(world.owner, command)
        assert (caught.value.code, caught.value.param) == ("not_found", "member_id")


async def test_a_project_admin_cannot_manage_members(world: World) -> None:
    admin = await world.member("admin@acme.test", role="admin")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(admin, m.CreateMember(email="x@acme.test", token_hash=token_hash()))
    assert caught.value.code == "owner_required"
