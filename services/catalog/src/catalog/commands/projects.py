"""Projects: owners create, rename and delete; members see the projects they belong to."""

from __future__ import annotations

from typing import Any

from catalog import views
from catalog.commands.common import PROJECT, announce, checked_name, found, remove, update_by_id
from catalog.commands.limits import limit_fields
from catalog.context import Ctx
from catalog.policy import require, visible_projects
from catalog.repository import Doc, now
from catalog.results import Created, Done, Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import new_id

TAKEN = "a project with this name"


def _name(raw: str) -> str:
    return checked_name(raw, message="project name must be 1-100 printable characters", printable=True)


async def get_project_doc(ctx: Ctx, org_id: str, project_id: str) -> Doc:
    return await found(ctx, PROJECT, org_id, _id=project_id)


async def list_projects(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListProjects) -> Ok:
    require(who, cmd)
    visible = visible_projects(who)
    docs = await ctx.repo.projects.list(who.org_id)
    return Ok({"data": [views.project(d) for d in docs if visible is None or d["_id"] in visible]})


async def create_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateProject) -> Created:
    require(who, cmd)
    doc: dict[str, Any] = {
        "_id": new_id("prj"),
        "org_id": who.org_id,
        "name": _name(cmd.name),
        "content_logging": cmd.content_logging,
        "created_at": now(),
        **limit_fields(cmd),
    }
    await ctx.repo.projects.insert(doc, what=TAKEN)
    await announce(ctx, who, "project", doc["_id"], "project.create")
    return Created(views.project(doc))


async def get_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.GetProject) -> Ok:
    require(who, cmd, cmd.project_id)
    return Ok(views.project(await get_project_doc(ctx, who.org_id, cmd.project_id)))


async def update_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateProject) -> Ok:
    require(who, cmd, cmd.project_id)
    changes: dict[str, Any] = limit_fields(cmd)
    if cmd.name is not None:
        changes["name"] = _name(cmd.name)
    if cmd.content_logging is not None:
        changes["content_logging"] = cmd.content_logging
    doc = await update_by_id(ctx, who, PROJECT, cmd.project_id, changes, TAKEN)
    return Ok(views.project(doc))


async def delete_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteProject) -> Done:
    require(who, cmd, cmd.project_id)
    if await ctx.repo.api_keys.count(who.org_id, project_id=cmd.project_id, revoked_at=None):
        raise KeyrelayError("conflict", "revoke the project's API keys before deleting it")
    return await remove(ctx, who, PROJECT, cmd.project_id)
