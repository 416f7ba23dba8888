"""Model provisioning per integration: toggle catalog models, add and remove custom models.

A custom model may live on its own custom host, in its own API format (OpenAI, Anthropic, Cohere),
other than its integration's: the host is checked against the address policy like every host, and
keyvault binds the integration's key to it too (owner-only, `bind_model_hosts`) before anything can
route there; removing the model unbinds it. Keyvault refuses the key for any host not bound.
"""

from __future__ import annotations

from catalog import validation, views
from catalog.commands.common import announce
from catalog.commands.integrations import load, load_visible
from catalog.context import Ctx
from catalog.integration_support import bind_model_hosts, check_custom_host, model_hosts, selection_to_enabled
from catalog.policy import require
from catalog.providers import adapter_for
from catalog.results import Created, Done, Ok
from shared.errors import KeyrelayError
from shared.messages import catalog as m


async def list_models(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListModels) -> Ok:
    require(who, cmd)
    doc = await load_visible(ctx, who, cmd.slug)
    enabled = set(doc.get("enabled_models", []))
    catalog_models = [
        {
            "id": model.id,
            "enabled": model.id in enabled,
            "pricing": model.pricing_dict(),
            "kind": model.kind,
            "price_source": model.price_source,
            "price_date": model.price_date,
        }
        for model in ctx.models.for_provider(doc["provider"])
    ]
    return Ok({"data": catalog_models, "custom": [views.custom_model(c) for c in doc.get("custom_models", [])]})


async def set_models(ctx: Ctx, who: m.MemberPrincipal, cmd: m.SetModels) -> Ok:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    enabled = selection_to_enabled(ctx, doc["provider"], cmd.selection, doc.get("custom_host") is not None)
    updated = await ctx.repo.integrations.update(who.org_id, {"_id": doc["_id"]}, {"enabled_models": enabled}) or doc
    await announce(ctx, who, "integration", doc["_id"], "integration.models", {"enabled": str(len(enabled))})
    return Ok({"enabled": updated.get("enabled_models", [])})


async def add_custom_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.AddCustomModel) -> Created:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    slug = validation.validate_model_slug(cmd.model.slug)
    host = await check_custom_host(ctx, cmd.model.custom_host)
    if host is not None:
        adapter_for(doc["provider"], host)  # a format this gateway speaks
    prices = cmd.model.pricing
    pricing = {
        k: v
        for k, v in (
            ("input_per_mtok", prices.input_per_mtok),
            ("output_per_mtok", prices.output_per_mtok),
            ("cached_input_per_mtok", prices.cached_input_per_mtok),
        )
        if v is not None
    }
    if any(p < 0 for p in pricing.values()):
        raise KeyrelayError("invalid_request", "prices must not be negative", param="pricing")
    entry = {"slug": slug, "base_model": cmd.model.base_model, "custom_host": host, "pricing": pricing}
    if any(c["slug"] == slug for c in doc.get("custom_models", [])):
        raise KeyrelayError("conflict", "a custom model with this slug already exists", param="slug")
    hosts_before = model_hosts(doc)
    with_model = {**doc, "custom_models": [*doc.get("custom_models", []), entry]}
    if model_hosts(with_model) != hosts_before:  # the key is bound to the new host before the model can route
        await bind_model_hosts(ctx, who, with_model)
    if not await ctx.repo.add_custom_model(who.org_id, doc["_id"], entry):
        await _rebind_hosts(ctx, who, doc["_id"], hosts_before)
        raise KeyrelayError("conflict", "a custom model with this slug already exists", param="slug")
    await announce(ctx, who, "integration", doc["_id"], "integration.custom_model.create", {"model": slug})
    return Created(views.custom_model(entry))


async def delete_custom_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteCustomModel) -> Done:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    if not await ctx.repo.remove_custom_model(who.org_id, doc["_id"], cmd.model_slug):
        raise KeyrelayError("model_not_found", "custom model not found", param="model_slug")
    await _rebind_hosts(ctx, who, doc["_id"], model_hosts(doc))
    detail = {"model": cmd.model_slug}
    await announce(ctx, who, "integration", doc["_id"], "integration.custom_model.delete", detail)
    return Done()


async def _rebind_hosts(ctx: Ctx, who: m.MemberPrincipal, integration_id: str, bound: list[str]) -> None:
    """After a custom model went (or failed to be added): the key's hosts follow the stored models
    again, unless they already match what keyvault was last told (`bound`)."""
    current = await ctx.repo.integrations.get(who.org_id, _id=integration_id)
    if current is not None and model_hosts(current) != bound:
        await bind_model_hosts(ctx, who, current)
