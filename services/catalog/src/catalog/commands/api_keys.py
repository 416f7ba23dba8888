"""Project API keys: shown once, stored hashed; revocation is broadcast so every replica drops it."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import hash_token, new_api_key, new_id

from catalog import views
from catalog.commands.projects import get_project_doc
from catalog.context import Ctx, Handler, Reply
from catalog.policy import require, visible_projects
from catalog.repository import now


def _limits(cmd: m.CreateApiKey | m.UpdateApiKey) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in ("rpm", "tpm"):
        value = getattr(cmd, field)
        if value is not None:
            if value < 1:
                raise KeyrelayError("invalid_request", f"{field} must be a positive integer", param=field)
            out[field] = value
    if cmd.budget_usd is not None:
        if cmd.budget_usd < 0:
            raise KeyrelayError("invalid_request", "budget_usd must not be negative", param="budget_usd")
        out["budget_usd"] = cmd.budget_usd
        out["budget_period"] = cmd.budget_period or "month"
    elif cmd.budget_period is not None:
        out["budget_period"] = cmd.budget_period
    if cmd.models is not None:
        if len(cmd.models) > 500 or any(not isinstance(x, str) or not 1 <= len(x) <= 200 for x in cmd.models):
            raise KeyrelayError("invalid_request", "models must be a list of model strings", param="models")
        out["models"] = list(cmd.models)
    if cmd.expires_at is not None:
        expires = cmd.expires_at if cmd.expires_at.tzinfo else cmd.expires_at.replace(tzinfo=UTC)
        out["expires_at"] = expires
    return out


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
    key = new_api_key()
    doc = {
        "_id": new_id("key"),
        "org_id": who.org_id,
        "project_id": cmd.project_id,
        "name": _name(cmd.name),
        "key_hash": hash_token(key),
        "prefix": key[:7],
        "created_at": now(),
        "created_by": who.member_id,
        "revoked_at": None,
        **_limits(cmd),
    }
    await ctx.repo.insert(ctx.repo.api_keys, doc)
    ctx.events.audit(who, who.org_id, "api_key.create", "api_key", doc["_id"])
    return Reply(201, {**views.api_key(doc), "key": key})


async def update_api_key(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateApiKey) -> Reply:
    current = await _key_doc(ctx, who, cmd.api_key_id)
    require(who, cmd, current["project_id"])
    changes = _limits(cmd)
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
    require(who, cmd, current["project_id"])
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
