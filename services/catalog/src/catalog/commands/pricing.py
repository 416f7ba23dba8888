"""An integration's economics: read by owners and by admins of a project in its scope, set by owners.

A change applies from the moment it is saved: the change event makes every gateway drop the org's
routing snapshots, the next snapshot carries the new effective prices, and records already written
keep the price they were charged at. Each change is audited with the new terms (prices are not secrets).
"""

from __future__ import annotations

import msgspec

from catalog import pricing
from catalog.commands.common import announce
from catalog.commands.integrations import load, load_visible
from catalog.context import Ctx
from catalog.policy import require
from catalog.repository import Doc, now
from catalog.results import Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m


def _admin_project_in_scope(who: m.MemberPrincipal, doc: Doc) -> str | None:
    scope = doc.get("project_scope", "all")
    return next(
        (project for project, role in sorted(who.projects.items()) if role == "admin" and _serves(project, scope)),
        None,
    )


def _serves(project_id: str, scope: str | list[str]) -> bool:
    return scope == "all" or project_id in scope


async def get_pricing(ctx: Ctx, who: m.MemberPrincipal, cmd: m.GetPricing) -> Ok:
    doc = await load_visible(ctx, who, cmd.slug)
    if who.org_role == "owner":
        require(who, cmd)
    else:
        # an admin of a project the integration serves; developers (and admins elsewhere) are refused
        require(who, cmd, _admin_project_in_scope(who, doc) or next(iter(sorted(who.projects)), None))
    return Ok(pricing.view(ctx.models, doc))


async def put_pricing(ctx: Ctx, who: m.MemberPrincipal, cmd: m.PutPricing) -> Ok:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    terms = pricing.checked_terms(ctx.models, doc, cmd.terms)
    stored = {**pricing.stored_terms(terms), "updated_at": now(), "updated_by": who.member_id}
    updated = await ctx.repo.integrations.update(who.org_id, {"_id": doc["_id"]}, {"pricing": stored})
    if updated is None:
        raise KeyrelayError("integration_not_found", "integration not found", param="slug")
    detail = {
        "slug": doc["slug"],
        "discount_pct": f"{terms['discount_pct']:g}",
        "models": ",".join(sorted(terms["models"])),
        "terms": msgspec.json.encode(terms).decode()[:4000],
    }
    await announce(ctx, who, "integration", doc["_id"], "integration.pricing", detail)
    return Ok(pricing.view(ctx.models, updated))
