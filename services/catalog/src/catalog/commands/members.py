"""Members: owners invite, change roles and remove; tokens are made and shown once by the gateway,
catalog gets and stores only their hash."""

from __future__ import annotations

import re
from typing import Any

from catalog import views
from catalog.commands.common import MEMBER, found, remove, update_by_id
from catalog.context import Ctx
from catalog.policy import require
from catalog.repository import now
from catalog.results import Created, Done, Ok
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
    if projects and await ctx.repo.projects.existing_ids(org_id, projects) != set(projects):
        raise KeyrelayError("not_found", "unknown project in projects", param="projects")


async def list_members(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListMembers) -> Ok:
    require(who, cmd)
    docs = await ctx.repo.members.list(who.org_id)
    if who.org_role != "owner":
        docs = [d for d in docs if d["_id"] == who.member_id]
    return Ok({"data": [views.member(d) for d in docs]})


async def create_member(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateMember) -> Created:
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
    await ctx.repo.members.insert(doc, what="a member with this email")
    ctx.events.audit(who, who.org_id, "member.create", "member", doc["_id"], detail={"org_role": cmd.org_role})
    return Created(views.member(doc))


async def update_member(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateMember) -> Ok:
    require(who, cmd)
    if cmd.member_id == who.member_id and cmd.org_role is not None and cmd.org_role != who.org_role:
        raise KeyrelayError("forbidden", "you cannot change your own role")
    current = await found(ctx, MEMBER, who.org_id, _id=cmd.member_id)
    changes: dict[str, Any] = {}
    if cmd.org_role is not None:
        demoted = current["org_role"] == "owner" and cmd.org_role != "owner"
        if demoted and await ctx.repo.members.count(who.org_id, org_role="owner") <= 1:
            raise KeyrelayError("conflict", "an organization needs at least one owner")
        changes["org_role"] = cmd.org_role
    if cmd.projects is not None:
        await _check_projects(ctx, who.org_id, dict(cmd.projects))
        changes["projects"] = dict(cmd.projects)
    doc = await update_by_id(ctx, who, MEMBER, cmd.member_id, changes)
    return Ok(views.member(doc))


async def delete_member(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteMember) -> Done:
    require(who, cmd)
    if cmd.member_id == who.member_id:
        raise KeyrelayError("forbidden", "you cannot remove yourself")
    return await remove(ctx, who, MEMBER, cmd.member_id)
