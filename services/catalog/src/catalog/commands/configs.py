"""Gateway configs: named, immutable versions. Each change adds a version; roll back by re-pointing."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec

from catalog.commands.common import CONFIG, announce, changed_meanwhile, remove_named, visible_named, visible_to
from catalog.commands.projects import get_project_doc
from catalog.context import Ctx
from catalog.policy import require, require_on_project, require_on_stored
from catalog.repository import now
from catalog.results import Created, Done, Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import new_id

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_DEPTH = 4
MAX_TARGETS = 32


def _check_node(node: m.ConfigNode, slugs: set[str], depth: int = 0) -> int:
    if depth > MAX_DEPTH:
        raise KeyrelayError("invalid_request", f"configs nest at most {MAX_DEPTH} levels", param="targets")
    if not node.targets:
        raise KeyrelayError("invalid_request", "every config node needs targets", param="targets")
    if node.retry.attempts < 1 or node.retry.attempts > 10:
        raise KeyrelayError("invalid_request", "retry.attempts must be 1-10", param="retry.attempts")
    for condition in node.strategy.conditions:
        if not 0 <= condition.then < len(node.targets):
            raise KeyrelayError("invalid_request", "a condition points past the targets", param="strategy.conditions")
    for timeout in (node.timeout_ms, node.first_byte_timeout_ms, node.total_timeout_ms):
        if timeout is not None and not 1 <= timeout <= 3_600_000:
            raise KeyrelayError("invalid_request", "timeouts must be 1 ms to 1 hour", param="timeout_ms")
    count = 0
    for target in node.targets:
        if target.weight <= 0:
            raise KeyrelayError("invalid_request", "weights must be positive", param="targets")
        if target.node is not None:
            count += _check_node(target.node, slugs, depth + 1)
        elif target.integration is None or target.integration not in slugs:
            raise KeyrelayError("integration_not_found", f"unknown integration {target.integration!r}", param="targets")
        else:
            count += 1
    if count > MAX_TARGETS:
        raise KeyrelayError("invalid_request", f"a config may reach at most {MAX_TARGETS} targets", param="targets")
    return count


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    current = next(v for v in doc["versions"] if v["version"] == doc["current_version"])
    return {
        "name": doc["name"],
        "project_id": doc.get("project_id"),
        "version": doc["current_version"],
        "config": current["node"],
        "versions": [
            {"version": v["version"], "created_at": _iso(v.get("created_at")), "created_by": v.get("created_by")}
            for v in doc["versions"]
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


async def _slugs(ctx: Ctx, org_id: str) -> set[str]:
    return {d["slug"] for d in await ctx.repo.integrations.list(org_id) if d.get("status") != "pending"}


async def list_configs(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListConfigs) -> Ok:
    require(who, cmd)
    docs = await ctx.repo.configs.list(who.org_id)
    return Ok({"data": [_view(d) for d in docs if visible_to(who, d)]})


async def get_config(ctx: Ctx, who: m.MemberPrincipal, cmd: m.GetConfig) -> Ok:
    require(who, cmd)
    return Ok(_view(await visible_named(ctx, who, CONFIG, cmd.name)))


async def put_config(ctx: Ctx, who: m.MemberPrincipal, cmd: m.PutConfig) -> Ok | Created:
    if not _NAME.match(cmd.name):
        raise KeyrelayError("invalid_request", "name must be 1-64 of [a-z0-9._-]", param="name")
    doc = await ctx.repo.configs.get(who.org_id, name=cmd.name)
    if doc is None or cmd.create_only:
        require_on_project(who, cmd, cmd.project_id)
        project_id = cmd.project_id
    else:
        # A PUT without `project_id` keeps the config where it is; naming another project moves it (owners).
        stored = doc.get("project_id")
        project_id = stored if cmd.project_id is None else cmd.project_id
        require_on_stored(who, cmd, stored, project_id)
    if doc is not None and cmd.create_only:
        raise KeyrelayError("conflict", "a config with this name exists", param="name")
    if project_id is not None and (doc is None or project_id != doc.get("project_id")):
        await get_project_doc(ctx, who.org_id, project_id)
    if cmd.rollback_to is not None:
        if doc is None or not any(v["version"] == cmd.rollback_to for v in doc["versions"]):
            raise KeyrelayError("not_found", "no such config version", param="rollback_to")
        doc = await ctx.repo.configs.update(
            who.org_id,
            {"_id": doc["_id"], "project_id": doc.get("project_id")},
            {"current_version": cmd.rollback_to, "project_id": project_id},
        )
        if doc is None:
            raise changed_meanwhile(CONFIG)
        await announce(ctx, who, "config", doc["_id"], "config.rollback", {"version": str(cmd.rollback_to)})
        return Ok(_view(doc))
    if cmd.node is None:
        raise KeyrelayError("invalid_request", "a config body is required", param="config")
    _check_node(cmd.node, await _slugs(ctx, who.org_id))
    version = {"node": msgspec.to_builtins(cmd.node), "created_at": now(), "created_by": who.member_id}
    if doc is None:
        version["version"] = 1
        doc = {
            "_id": new_id("cfg"),
            "org_id": who.org_id,
            "name": cmd.name,
            "project_id": project_id,
            "current_version": 1,
            "versions": [version],
            "created_at": now(),
        }
        await ctx.repo.configs.insert(doc, what="a config with this name")
        result: Ok | Created = Created(_view(doc))
    else:
        version["version"] = max(v["version"] for v in doc["versions"]) + 1
        # Matched on the project it was authorised against, so a concurrent move cannot slip in between.
        doc = await ctx.repo.push_config_version(who.org_id, doc["_id"], doc.get("project_id"), version, project_id)
        if doc is None:
            raise changed_meanwhile(CONFIG)
        result = Ok(_view(doc))
    await announce(ctx, who, "config", doc["_id"], "config.put", {"version": str(doc["current_version"])})
    return result


async def delete_config(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteConfig) -> Done:
    return await remove_named(ctx, who, cmd, CONFIG)
