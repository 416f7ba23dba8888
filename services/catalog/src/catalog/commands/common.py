"""The load → check → write → announce steps every management command shares."""

from __future__ import annotations

from typing import Any

from catalog.context import Ctx
from catalog.repository import Doc, Records
from shared.errors import KeyrelayError
from shared.messages import catalog as m


def missing(what: str, param: str, code: str = "not_found") -> KeyrelayError:
    return KeyrelayError(code, f"{what} not found", param=param)


async def found(records: Records, org_id: str, what: str, param: str, **match: Any) -> Doc:
    """The org's document matching `match`, or `not_found` naming `what` and `param`."""
    doc = await records.get(org_id, **match)
    if doc is None:
        raise missing(what, param)
    return doc


async def update_by_id(
    ctx: Ctx,
    who: m.MemberPrincipal,
    records: Records,
    kind: str,
    target_id: str,
    changes: Doc,
    *,
    what: str,
    param: str,
    taken: str = "",
) -> Doc:
    """Apply `changes` to the org's `kind` with this id and announce `<kind>.update`; `not_found`
    when it is gone, `conflict` (worded by `taken`) when the change collides with another one."""
    doc = await records.update(who.org_id, {"_id": target_id}, changes, what=taken)
    if doc is None:
        raise missing(what, param)
    await announce(ctx, who, kind, target_id, f"{kind}.update")
    return doc


async def announce(
    ctx: Ctx, who: m.MemberPrincipal, kind: str, target_id: str, action: str, detail: dict[str, str] | None = None
) -> None:
    """Tell the gateways what changed (ids only) and audit who changed it."""
    await ctx.events.changed(who.org_id, kind, target_id)
    ctx.events.audit(who, who.org_id, action, kind, target_id, detail=detail)


def checked_name(raw: str, *, message: str = "name must be 1-100 characters", printable: bool = False) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= 100 or (printable and any(ord(c) < 32 for c in name)):
        raise KeyrelayError("invalid_request", message, param="name")
    return name


def visible_to(who: m.MemberPrincipal, doc: Doc) -> bool:
    """Whether a project-owned resource (virtual model, config) is visible: org-wide ones to every member."""
    return who.org_role == "owner" or doc.get("project_id") in (None, *who.projects)


async def visible_named(records: Records, who: m.MemberPrincipal, name: str, what: str) -> Doc:
    """The project-owned resource with this name; outside the caller's projects it does not exist."""
    doc = await records.get(who.org_id, name=name)
    if doc is None or not visible_to(who, doc):
        raise missing(what, "name")
    return doc


def changed_meanwhile(what: str) -> KeyrelayError:
    return KeyrelayError("conflict", f"the {what} changed meanwhile; read it and retry", param="name")
