"""Virtual models: named aliases over `@slug/model` targets, org-wide or per project."""

from __future__ import annotations

import re

from catalog import views
from catalog.commands.common import VIRTUAL_MODEL, announce, changed_meanwhile, remove_named, visible_named, visible_to
from catalog.commands.projects import get_project_doc
from catalog.context import Ctx
from catalog.policy import require, require_on_project, require_on_stored
from catalog.repository import now
from catalog.results import Created, Done, Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import new_id

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _validate(spec: m.VirtualModelSpec) -> None:
    if not _NAME.match(spec.name) or "/" in spec.name or spec.name.startswith("@"):
        raise KeyrelayError("invalid_request", "name must be 1-64 of [a-z0-9._-]", param="name")
    if not 1 <= len(spec.targets) <= 16 and not (spec.config and not spec.targets):
        raise KeyrelayError("invalid_request", "a virtual model needs 1-16 targets", param="targets")
    for target in spec.targets:
        if not target.model.startswith("@") or "/" not in target.model:
            raise KeyrelayError("invalid_model", "targets must be @integration-slug/model", param="targets")
        if target.weight <= 0:
            raise KeyrelayError("invalid_request", "weights must be positive", param="targets")


async def list_virtual_models(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListVirtualModels) -> Ok:
    require(who, cmd)
    docs = await ctx.repo.virtual_models.list(who.org_id)
    return Ok({"data": [views.virtual_model(d) for d in docs if visible_to(who, d)]})


async def put_virtual_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.PutVirtualModel) -> Ok | Created:
    spec = cmd.spec
    existing = await ctx.repo.virtual_models.get(who.org_id, name=spec.name)
    if existing is None or cmd.create_only:
        require_on_project(who, cmd, spec.project_id)
    else:
        require_on_stored(who, cmd, existing.get("project_id"), spec.project_id)
    if existing is not None and cmd.create_only:
        raise KeyrelayError("conflict", "a virtual model with this name exists", param="name")
    _validate(spec)
    if spec.project_id is not None:
        await get_project_doc(ctx, who.org_id, spec.project_id)
    if spec.config is not None:
        # A project's virtual model may use the org-wide configs and its own project's, nothing else.
        config = await ctx.repo.configs.get(who.org_id, name=spec.config)
        if config is None or (spec.project_id is not None and config.get("project_id") not in (None, spec.project_id)):
            raise KeyrelayError("not_found", "no gateway config with this name", param="config")
    body = {
        "config": spec.config,
        "strategy": spec.strategy,
        "project_id": spec.project_id,
        "targets": [{"model": t.model, "weight": t.weight} for t in spec.targets],
    }
    if existing is not None:
        # Matched on the project it was authorised against, so a concurrent move cannot slip in between.
        match = {"_id": existing["_id"], "project_id": existing.get("project_id")}
        doc = await ctx.repo.virtual_models.update(who.org_id, match, body)
        if doc is None:
            raise changed_meanwhile(VIRTUAL_MODEL)
        result: Ok | Created = Ok(views.virtual_model(doc))
    else:
        doc = {"_id": new_id("vm"), "org_id": who.org_id, "name": spec.name, "created_at": now(), **body}
        await ctx.repo.virtual_models.insert(doc, what="a virtual model with this name")
        result = Created(views.virtual_model(doc))
    await announce(ctx, who, "virtual_model", doc["_id"], "virtual_model.put", {"name": spec.name})
    return result


async def get_virtual_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.GetVirtualModel) -> Ok:
    require(who, cmd)
    return Ok(views.virtual_model(await visible_named(ctx, who, VIRTUAL_MODEL, cmd.name)))


async def delete_virtual_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteVirtualModel) -> Done:
    return await remove_named(ctx, who, cmd, VIRTUAL_MODEL)
