"""The load → check → write → announce steps every management command shares, per `Kind` of
resource (how it is named in events, audits and errors, and where it is stored)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catalog.context import Ctx
from catalog.policy import require_on_stored
from catalog.repository import Doc, Records, Store
from catalog.results import Done
from shared.errors import KeyrelayError
from shared.messages import catalog as m


@dataclass(frozen=True, slots=True)
class Kind:
    name: str  # change events and audit actions: `project`, `api_key`, `virtual_model`
    what: str  # in messages: "project", "API key", "virtual model"
    param: str  # the request field that names one
    records: Callable[[Store], Records]


PROJECT = Kind("project", "project", "project_id", lambda repo: repo.projects)
MEMBER = Kind("member", "member", "member_id", lambda repo: repo.members)
API_KEY = Kind("api_key", "API key", "api_key_id", lambda repo: repo.api_keys)
CONFIG = Kind("config", "config", "name", lambda repo: repo.configs)
VIRTUAL_MODEL = Kind("virtual_model", "virtual model", "name", lambda repo: repo.virtual_models)


def missing(kind: Kind) -> KeyrelayError:
    return KeyrelayError("not_found", f"{kind.what} not found", param=kind.param)


def changed_meanwhile(kind: Kind) -> KeyrelayError:
    return KeyrelayError("conflict", f"the {kind.what} changed meanwhile; read it and retry", param="name")


async def found(ctx: Ctx, kind: Kind, org_id: str, **match: Any) -> Doc:
    """The org's document matching `match`, or `not_found` naming the kind and its parameter."""
    doc = await kind.records(ctx.repo).get(org_id, **match)
    if doc is None:
        raise missing(kind)
    return doc


async def announce(
    ctx: Ctx, who: m.MemberPrincipal, kind: str, target_id: str, action: str, detail: dict[str, str] | None = None
) -> None:
    """Tell the gateways what changed (ids only) and audit who changed it."""
    await ctx.events.changed(who.org_id, kind, target_id)
    ctx.events.audit(who, who.org_id, action, kind, target_id, detail=detail)


async def update_by_id(
    ctx: Ctx, who: m.MemberPrincipal, kind: Kind, target_id: str, changes: Doc, taken: str = ""
) -> Doc:
    """Apply `changes` to the org's resource with this id and announce `<kind>.update`; `not_found`
    when it is gone, `conflict` (worded by `taken`) when the change collides with another one."""
    doc = await kind.records(ctx.repo).update(who.org_id, {"_id": target_id}, changes, what=taken)
    if doc is None:
        raise missing(kind)
    await announce(ctx, who, kind.name, target_id, f"{kind.name}.update")
    return doc


async def remove(ctx: Ctx, who: m.MemberPrincipal, kind: Kind, target_id: str, **match: Any) -> Done:
    """Delete the org's resource with this id (and `match`); announce `<kind>.delete`. Gone already:
    `not_found`; no longer matching `match`: `conflict` (it changed meanwhile)."""
    if not await kind.records(ctx.repo).delete(who.org_id, _id=target_id, **match):
        raise changed_meanwhile(kind) if match else missing(kind)
    detail = {"name": match["name"]} if kind is VIRTUAL_MODEL else None
    await announce(ctx, who, kind.name, target_id, f"{kind.name}.delete", detail)
    return Done()


def visible_to(who: m.MemberPrincipal, doc: Doc) -> bool:
    """Whether a project-owned resource (virtual model, config) is visible: org-wide ones to every member."""
    return who.org_role == "owner" or doc.get("project_id") in (None, *who.projects)


async def visible_named(ctx: Ctx, who: m.MemberPrincipal, kind: Kind, name: str) -> Doc:
    """The project-owned resource with this name; outside the caller's projects it does not exist."""
    doc = await kind.records(ctx.repo).get(who.org_id, name=name)
    if doc is None or not visible_to(who, doc):
        raise missing(kind)
    return doc


async def remove_named(
    ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteConfig | m.DeleteVirtualModel, kind: Kind
) -> Done:
    """Delete a project-owned resource by name, decided by the project it is stored in; matched on
    that project, so a concurrent move cannot slip in between."""
    doc = await visible_named(ctx, who, kind, cmd.name)
    require_on_stored(who, cmd, doc.get("project_id"))
    return await remove(ctx, who, kind, doc["_id"], name=cmd.name, project_id=doc.get("project_id"))


def checked_name(raw: str, *, message: str = "name must be 1-100 characters", printable: bool = False) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= 100 or (printable and any(ord(c) < 32 for c in name)):
        raise KeyrelayError("invalid_request", message, param="name")
    return name
