"""Project API keys: made and shown once by the gateway, catalog gets and stores only their hash;
revocation is broadcast so every replica drops it."""

from __future__ import annotations

from typing import Any

from catalog import views
from catalog.commands.limits import limit_fields
from catalog.commands.projects import get_project_doc
from catalog.context import Ctx, Handler, Reply
from catalog.policy import require, require_on_stored, visible_projects
from catalog.repository import now
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import is_shown_prefix, new_id, require_token_hash


def _name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= 100:
        raise KeyrelayError("invalid_request", "name must be 1-100 characters", param="name")
    return name


async def _key_doc(ctx: Ctx, who: m.MemberPrincipal, api_key_id: str) -> dict[str, Any]:
    doc = await ctx.repo.get(ctx.repo.api_keys, who.org_id, _id=api_key_id)
    if doc is None:
        raise KeyrelayError("not_found", "API key not found", param="api_key_id")
    return doc


async def list_api_keys(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListApiKeys) -> Reply:
    require(who, cmd, cmd.project_id)
    match: dict[str, Any] = {} if cmd.project_id is None else {"project_id": cmd.project_id}
    visible = visible_projects(who)
    docs = await ctx.repo.find_all(ctx.repo.api_keys, who.org_id, **match)
    return Reply(200, {"data": [views.api_key(d) for d in docs if visible is None or d["project_id"] in visible]})


async def create_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateApiKey) -> Reply:
    require(who, cmd, cmd.project_id)
    await get_project_doc(ctx, who.org_id, cmd.project_id)
    if not is_shown_prefix(cmd.key_prefix):
        raise KeyrelayError("invalid_request", "key_prefix is not an API key prefix", param="key_prefix")
    doc = {
        "_id": new_id("key"),
        "org_id": who.org_id,
        "project_id": cmd.project_id,
        "name": _name(cmd.name),
        "key_hash": require_token_hash(cmd.key_hash, "key_hash"),
        "prefix": cmd.key_prefix,
        "created_at": now(),
        "created_by": who.member_id,
        "revoked_at": None,
        **limit_fields(cmd),
    }
    await ctx.repo.insert(ctx.repo.api_keys, doc)
    ctx.events.audit(who, who.org_id, "api_key.create", "api_key", doc["_id"])
    return Reply(201, views.api_key(doc))


async def update_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateApiKey) -> Reply:
    current = await _key_doc(ctx, who, cmd.api_key_id)
    require_on_stored(who, cmd, current["project_id"])  # an API key never changes project
    changes = limit_fields(cmd)
    if cmd.name is not None:
        changes["name"] = _name(cmd.name)
    doc = await ctx.repo.update(ctx.repo.api_keys, who.org_id, {"_id": cmd.api_key_id}, changes)
    if doc is None:
        raise KeyrelayError("not_found", "API key not found", param="api_key_id")
    await ctx.events.changed(who.org_id, "api_key", cmd.api_key_id)
    ctx.events.audit(who, who.org_id, "api_key.update", "api_key", cmd.api_key_id)
    return Reply(200, views.api_key(doc))


async def delete_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteApiKey) -> Reply:
    current = await _key_doc(ctx, who, cmd.api_key_id)
    require_on_stored(who, cmd, current["project_id"])  # an API key never changes project
    await ctx.repo.update(ctx.repo.api_keys, who.org_id, {"_id": cmd.api_key_id}, {"revoked_at": now()})
    await ctx.events.changed(who.org_id, "api_key", cmd.api_key_id)
    ctx.events.audit(who, who.org_id, "api_key.revoke", "api_key", cmd.api_key_id)
    return Reply(204, None)


HANDLERS: dict[type[Any], Handler] = {
    m.ListApiKeys: list_api_keys,
    m.CreateApiKey: create_api_key,
    m.UpdateApiKey: update_api_key,
    m.DeleteApiKey: delete_api_key,
}
