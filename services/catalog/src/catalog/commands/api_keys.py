"""Project API keys: made and shown once by the gateway, catalog gets and stores only their hash;
revocation is broadcast so every replica drops it."""

from __future__ import annotations

from typing import Any

from catalog import views
from catalog.commands.common import API_KEY, announce, checked_name, found, update_by_id
from catalog.commands.limits import limit_fields
from catalog.commands.projects import get_project_doc
from catalog.context import Ctx
from catalog.policy import require, require_on_stored, visible_projects
from catalog.repository import Doc, now
from catalog.results import Created, Done, Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import is_shown_prefix, new_id, require_token_hash


async def _stored(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateApiKey | m.DeleteApiKey) -> Doc:
    """The key, once the caller may change it in the project it is stored in (a key never moves)."""
    doc = await found(ctx, API_KEY, who.org_id, _id=cmd.api_key_id)
    require_on_stored(who, cmd, doc["project_id"])
    return doc


async def list_api_keys(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListApiKeys) -> Ok:
    require(who, cmd, cmd.project_id)
    match: dict[str, Any] = {} if cmd.project_id is None else {"project_id": cmd.project_id}
    visible = visible_projects(who)
    docs = await ctx.repo.api_keys.list(who.org_id, **match)
    return Ok({"data": [views.api_key(d) for d in docs if visible is None or d["project_id"] in visible]})


async def create_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateApiKey) -> Created:
    require(who, cmd, cmd.project_id)
    await get_project_doc(ctx, who.org_id, cmd.project_id)
    if not is_shown_prefix(cmd.key_prefix):
        raise KeyrelayError("invalid_request", "key_prefix is not an API key prefix", param="key_prefix")
    doc = {
        "_id": new_id("key"),
        "org_id": who.org_id,
        "project_id": cmd.project_id,
        "name": checked_name(cmd.name),
        "key_hash": require_token_hash(cmd.key_hash, "key_hash"),
        "prefix": cmd.key_prefix,
        "created_at": now(),
        "created_by": who.member_id,
        "revoked_at": None,
        **limit_fields(cmd),
    }
    await ctx.repo.api_keys.insert(doc)
    ctx.events.audit(who, who.org_id, "api_key.create", "api_key", doc["_id"])
    return Created(views.api_key(doc))


async def update_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateApiKey) -> Ok:
    await _stored(ctx, who, cmd)
    changes = limit_fields(cmd)
    if cmd.name is not None:
        changes["name"] = checked_name(cmd.name)
    doc = await update_by_id(ctx, who, API_KEY, cmd.api_key_id, changes)
    return Ok(views.api_key(doc))


async def delete_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteApiKey) -> Done:
    await _stored(ctx, who, cmd)
    await ctx.repo.api_keys.update(who.org_id, {"_id": cmd.api_key_id}, {"revoked_at": now()})
    await announce(ctx, who, "api_key", cmd.api_key_id, "api_key.revoke")
    return Done()
