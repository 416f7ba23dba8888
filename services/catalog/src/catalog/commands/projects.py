"""Projects: owners create, rename and delete; members see the projects they belong to."""

from __future__ import annotations

from typing import Any

from catalog import views
from catalog.commands.limits import limit_fields
from catalog.context import Ctx, Handler, Reply
from catalog.policy import require, visible_projects
from catalog.repository import now
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import new_id


def _name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= 100 or any(ord(c) < 32 for c in name):
        raise KeyrelayError("invalid_request", "project name must be 1-100 printable characters", param="name")
    return name


async def get_project_doc(ctx: Ctx, org_id: str, project_id: str) -> dict[str, Any]:
    doc = await ctx.repo.get(ctx.repo.projects, org_id, _id=project_id)
    if doc is None:
        raise KeyrelayError("not_found", "project not found", param="project_id")
    return doc


async def list_projects(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListProjects) -> Reply:
    require(who, cmd)
    visible = visible_projects(who)
    docs = await ctx.repo.find_all(ctx.repo.projects, who.org_id)
    return Reply(200, {"data": [views.project(d) for d in docs if visible is None or d["_id"] in visible]})


async def create_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateProject) -> Reply:
    require(who, cmd)
    doc: dict[str, Any] = {
        "_id": new_id("prj"),
        "org_id": who.org_id,
        "name": _name(cmd.name),
        "content_logging": cmd.content_logging,
        "created_at": now(),
        **limit_fields(cmd),
    }
    await ctx.repo.insert(ctx.repo.projects, doc, what="a project with this name")
    await ctx.events.changed(who.org_id, "project", doc["_id"])
    ctx.events.audit(who, who.org_id, "project.create", "project", doc["_id"])
    return Reply(201, views.project(doc))


async def get_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.GetProject) -> Reply:
    require(who, cmd, cmd.project_id)
    return Reply(200, views.project(await get_project_doc(ctx, who.org_id, cmd.project_id)))


async def update_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateProject) -> Reply:
    require(who, cmd, cmd.project_id)
    changes: dict[str, Any] = limit_fields(cmd)
    if cmd.name is not None:
        changes["name"] = _name(cmd.name)
    if cmd.content_logging is not None:
        changes["content_logging"] = cmd.content_logging
    doc = await ctx.repo.update(
        ctx.repo.projects, who.org_id, {"_id": cmd.project_id}, changes, what="a project with this name"
    )
    if doc is None:
        raise KeyrelayError("not_found", "project not found", param="project_id")
    await ctx.events.changed(who.org_id, "project", cmd.project_id)
    ctx.events.audit(who, who.org_id, "project.update", "project", cmd.project_id)
    return Reply(200, views.project(doc))


async def delete_project(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteProject) -> Reply:
    require(who, cmd, cmd.project_id)
    if await ctx.repo.api_keys.count_documents(
        {"org_id": who.org_id, "project_id": cmd.project_id, "revoked_at": None}
    ):
        raise KeyrelayError("conflict", "revoke the project's API keys before deleting it")
    if not await ctx.repo.delete(ctx.repo.projects, who.org_id, _id=cmd.project_id):
        raise KeyrelayError("not_found", "project not found", param="project_id")
    await ctx.events.changed(who.org_id, "project", cmd.project_id)
    ctx.events.audit(who, who.org_id, "project.delete", "project", cmd.project_id)
    return Reply(204, None)


HANDLERS: dict[type[Any], Handler] = {
    m.ListProjects: list_projects,
    m.CreateProject: create_project,
    m.GetProject: get_project,
    m.UpdateProject: update_project,
    m.DeleteProject: delete_project,
}
