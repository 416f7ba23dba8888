"""Members: owners invite, change roles and remove; tokens are made and shown once by the gateway,
catalog gets and stores only their hash."""

from __future__ import annotations

import re
from typing import Any

from catalog import views
from catalog.context import Ctx, Handler, Reply
from catalog.policy import require
from catalog.repository import now
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import new_id, require_token_hash

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


def _email(raw: str) -> str:
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise KeyrelayError("invalid_request", "a valid email address is required", param="email")
    return email


async def _check_projects(ctx: Ctx, org_id: str, projects: dict[str, str]) -> None:
    if not projects:
        return
    found = await ctx.repo.projects.count_documents({"org_id": org_id, "_id": {"$in": list(projects)}})
    if found != len(projects):
        raise KeyrelayError("not_found", "unknown project in projects", param="projects")


async def _owner_count(ctx: Ctx, org_id: str) -> int:
    return await ctx.repo.members.count_documents({"org_id": org_id, "org_role": "owner"})


async def list_members(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListMembers) -> Reply:
    require(who, cmd)
    docs = await ctx.repo.find_all(ctx.repo.members, who.org_id)
    if who.org_role != "owner":
        docs = [d for d in docs if d["_id"] == who.member_id]
    return Reply(200, {"data": [views.member(d) for d in docs]})


async def create_member(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateMember) -> Reply:
    require(who, cmd)
    await _check_projects(ctx, who.org_id, dict(cmd.projects))
    doc: dict[str, Any] = {
        "_id": new_id("mem"),
        "org_id": who.org_id,
        "email": _email(cmd.email),
        "org_role": cmd.org_role,
        "projects": dict(cmd.projects),
        "token_hash": require_token_hash(cmd.token_hash, "token_hash"),
        "created_at": now(),
    }
    await ctx.repo.insert(ctx.repo.members, doc, what="a member with this email")
    ctx.events.audit(who, who.org_id, "member.create", "member", doc["_id"], detail={"org_role": cmd.org_role})
    return Reply(201, views.member(doc))


async def update_member(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateMember) -> Reply:
    require(who, cmd)
    if cmd.member_id == who.member_id and cmd.org_role is not None and cmd.org_role != who.org_role:
        raise KeyrelayError("forbidden", "you cannot change your own role")
    current = await ctx.repo.get(ctx.repo.members, who.org_id, _id=cmd.member_id)
    if current is None:
        raise KeyrelayError("not_found", "member not found", param="member_id")
    changes: dict[str, Any] = {}
    if cmd.org_role is not None:
        if current["org_role"] == "owner" and cmd.org_role != "owner" and await _owner_count(ctx, who.org_id) <= 1:
            raise KeyrelayError("conflict", "an organization needs at least one owner")
        changes["org_role"] = cmd.org_role
    if cmd.projects is not None:
        await _check_projects(ctx, who.org_id, dict(cmd.projects))
        changes["projects"] = dict(cmd.projects)
    doc = await ctx.repo.update(ctx.repo.members, who.org_id, {"_id": cmd.member_id}, changes)
    if doc is None:
        raise KeyrelayError("not_found", "member not found", param="member_id")
    await ctx.events.changed(who.org_id, "member", cmd.member_id)
    ctx.events.audit(who, who.org_id, "member.update", "member", cmd.member_id)
    return Reply(200, views.member(doc))


async def delete_member(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteMember) -> Reply:
    require(who, cmd)
    if cmd.member_id == who.member_id:
        raise KeyrelayError("forbidden", "you cannot remove yourself")
    if not await ctx.repo.delete(ctx.repo.members, who.org_id, _id=cmd.member_id):
        raise KeyrelayError("not_found", "member not found", param="member_id")
    await ctx.events.changed(who.org_id, "member", cmd.member_id)
    ctx.events.audit(who, who.org_id, "member.delete", "member", cmd.member_id)
    return Reply(204, None)


HANDLERS: dict[type[Any], Handler] = {
    m.ListMembers: list_members,
    m.CreateMember: create_member,
    m.UpdateMember: update_member,
    m.DeleteMember: delete_member,
}
