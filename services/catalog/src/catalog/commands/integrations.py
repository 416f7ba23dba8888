"""Integrations: the "External Keys" flow. Owners only; credentials go sealed to keyvault.

Create is two-phase so a failure never leaves a half-made integration: the metadata is inserted as
`pending` (the unique (org, slug) index makes concurrent creates of one slug race safely: exactly
one insert wins, the others get 409 `slug_taken`), keyvault stores the sealed credential, then the
record becomes `active`. If keyvault refuses, the pending record is removed.
"""

from __future__ import annotations

from typing import Any

from catalog import validation, views
from catalog.commands.common import announce
from catalog.commands.projects import get_project_doc
from catalog.context import Ctx
from catalog.integration_support import (
    bind_credential,
    bind_model_hosts,
    check_custom_host,
    integration_doc,
    model_hosts,
    owner_assertion,
    put_credential,
    resolve_binding,
    selection_to_enabled,
)
from catalog.policy import in_scope, require
from catalog.repository import Doc, now
from catalog.results import Created, Done, Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.base import ProjectScope
from shared.vault import rules


async def load(ctx: Ctx, org_id: str, slug: str) -> Doc:
    doc = await ctx.repo.integrations.get(org_id, slug=slug.lower())
    if doc is None or doc.get("status") == "pending":
        raise KeyrelayError("integration_not_found", "integration not found", param="slug")
    return doc


async def load_visible(ctx: Ctx, who: m.MemberPrincipal, slug: str) -> Doc:
    """`load` for reads: outside the caller's project scope an integration does not exist (404)."""
    doc = await load(ctx, who.org_id, slug)
    if not in_scope(who, doc.get("project_scope", [])):
        raise KeyrelayError("integration_not_found", "integration not found", param="slug")
    return doc


async def _check_scope(ctx: Ctx, org_id: str, scope: ProjectScope) -> ProjectScope:
    if scope == "all":
        return "all"
    projects = sorted(set(scope))
    if not projects:
        raise KeyrelayError("invalid_request", 'project_scope must be "all" or a non-empty list', param="project_scope")
    for project_id in projects:
        await get_project_doc(ctx, org_id, project_id)
    return projects


async def _view(ctx: Ctx, doc: Doc) -> Doc:
    """The integration as callers see it, with keyvault's masked view of its credential."""
    described = await ctx.vault.describe(org_id=doc["org_id"], integration_ids=[doc["_id"]])
    return views.integration(doc, described.get(doc["_id"]) if described else None)


async def _changed(ctx: Ctx, who: m.MemberPrincipal, doc: Doc, changes: Doc, action: str, detail: dict[str, str]) -> Ok:
    """Store `changes`, announce `action` and answer the updated integration."""
    updated = await ctx.repo.integrations.update(who.org_id, {"_id": doc["_id"]}, changes) or doc
    await announce(ctx, who, "integration", doc["_id"], action, detail)
    return Ok(await _view(ctx, updated))


async def list_integrations(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListIntegrations) -> Ok:
    require(who, cmd)
    docs = [d for d in await ctx.repo.integrations.list(who.org_id) if d.get("status") != "pending"]
    docs = [d for d in docs if in_scope(who, d.get("project_scope", []))]
    described = await ctx.vault.describe(org_id=who.org_id, integration_ids=[d["_id"] for d in docs]) if docs else {}
    return Ok({"data": [views.integration(d, described.get(d["_id"])) for d in docs]})


async def create_integration(ctx: Ctx, who: m.MemberPrincipal, cmd: m.CreateIntegration) -> Created:
    require(who, cmd)
    slug = validation.canonical_slug(cmd.slug)
    provider = ctx.providers.get(cmd.provider)
    if provider is None:
        raise KeyrelayError("invalid_request", "unknown provider", param="provider")
    name = cmd.name.strip()
    if not 1 <= len(name) <= 100:
        raise KeyrelayError("invalid_request", "name must be 1-100 characters", param="name")
    scope = await _check_scope(ctx, who.org_id, cmd.project_scope)
    custom_host = await check_custom_host(ctx, cmd.custom_host)
    binding = await bind_credential(ctx, cmd.provider, cmd.credentials, custom_host)
    enabled = selection_to_enabled(ctx, cmd.provider, cmd.models, custom_host is not None)
    doc = integration_doc(
        org_id=who.org_id,
        slug=slug,
        provider=cmd.provider,
        name=name,
        description=cmd.description[:2000],
        scope=scope,
        binding=binding,
        enabled=enabled,
        created_by=who.member_id,
    )
    await ctx.repo.integrations.insert(doc, conflict_code="slug_taken", what="an integration with this slug")
    try:
        await put_credential(ctx, who, "create", doc, base_url=doc["base_url"], sealed=cmd.credentials.sealed)
    except BaseException:
        await ctx.repo.integrations.delete(who.org_id, _id=doc["_id"], status="pending")
        raise
    created = await _changed(ctx, who, doc, {"status": "active"}, "integration.create", {"slug": slug})
    return Created(created.body)


async def get_integration(ctx: Ctx, who: m.MemberPrincipal, cmd: m.GetIntegration) -> Ok:
    require(who, cmd)
    return Ok(await _view(ctx, await load_visible(ctx, who, cmd.slug)))


async def update_integration(ctx: Ctx, who: m.MemberPrincipal, cmd: m.UpdateIntegration) -> Ok:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    changes: dict[str, Any] = {}
    if cmd.name is not None:
        changes["name"] = cmd.name.strip()[:100] or doc["name"]
    if cmd.description is not None:
        changes["description"] = cmd.description[:2000]
    if cmd.status is not None:
        changes["status"] = cmd.status
    if cmd.project_scope is not None:
        scope = await _check_scope(ctx, who.org_id, cmd.project_scope)
        await ctx.vault.set_scope(
            assertion=owner_assertion(ctx, who, "scope", doc["_id"], project_scope=scope),
            org_id=who.org_id,
            integration_id=doc["_id"],
            project_scope=scope,
        )
        changes["project_scope"] = scope
    if cmd.custom_host is not None or cmd.custom_headers is not None:
        changes |= await _rebind(ctx, who, {**doc, **changes}, cmd)
        await _follow_model_hosts(ctx, who, doc, changes)
    return await _changed(ctx, who, doc, changes, "integration.update", {"fields": ",".join(sorted(changes))})


async def _rebind(ctx: Ctx, who: m.MemberPrincipal, doc: Doc, cmd: m.UpdateIntegration) -> Doc:
    """A new custom host and/or new custom headers: keyvault re-encrypts the stored key, bound to the
    new base URL (as for a credentials update), keeping the header values unless new ones came."""
    custom_host = await check_custom_host(ctx, cmd.custom_host) if cmd.custom_host else doc.get("custom_host")
    public = dict(doc.get("credential_public") or {})
    header_names = (
        rules.validate_header_names(cmd.custom_headers.header_names, custom_host=custom_host is not None)
        if cmd.custom_headers is not None
        else list(doc.get("header_names") or [])
    )
    base_url, adapter = await resolve_binding(ctx, doc["provider"], public, custom_host)
    sealed = cmd.custom_headers.sealed if cmd.custom_headers is not None else b""
    keep_headers = cmd.custom_headers is None
    await put_credential(
        ctx, who, "update", doc, base_url=base_url, sealed=sealed, keep_secret=True, keep_headers=keep_headers
    )
    return {
        "custom_host": custom_host,
        "header_names": header_names,
        "base_url": base_url,
        "adapter": adapter,
        "credential_updated_at": now(),
    }


async def _follow_model_hosts(ctx: Ctx, who: m.MemberPrincipal, doc: Doc, changes: Doc) -> None:
    """A new base URL for the integration: the custom models' own hosts are those that differ from it now."""
    if model_hosts({**doc, **changes}) != model_hosts(doc):
        await bind_model_hosts(ctx, who, {**doc, **changes})


async def delete_integration(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteIntegration) -> Done:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    await ctx.vault.delete(
        assertion=owner_assertion(ctx, who, "delete", doc["_id"]), org_id=who.org_id, integration_id=doc["_id"]
    )
    await ctx.repo.integrations.delete(who.org_id, _id=doc["_id"])
    await announce(ctx, who, "integration", doc["_id"], "integration.delete", {"slug": doc["slug"]})
    return Done()


async def put_credentials(ctx: Ctx, who: m.MemberPrincipal, cmd: m.PutCredentials) -> Ok:
    """Replace (rotate) the credential; the provider never changes after creation."""
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    custom_host = await check_custom_host(ctx, cmd.custom_host) if cmd.custom_host else doc.get("custom_host")
    binding = await bind_credential(ctx, doc["provider"], cmd.credentials, custom_host)
    await put_credential(ctx, who, "update", doc, base_url=binding["base_url"], sealed=cmd.credentials.sealed)
    changes = {
        **binding,
        "status": "active",
        "last_error_class": None,
        "credential_updated_at": now(),
    }
    await _follow_model_hosts(ctx, who, doc, changes)
    return await _changed(ctx, who, doc, changes, "credential.rotate", {"slug": doc["slug"]})
