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


async def updated(
    records: Records, org_id: str, match: Doc, changes: Doc, *, what: str, param: str, taken: str = ""
) -> Doc:
    """`changes` applied to the matching document, or `not_found`; `taken`: the conflict's wording."""
    doc = await records.update(org_id, match, changes, what=taken)
    if doc is None:
        raise missing(what, param)
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
