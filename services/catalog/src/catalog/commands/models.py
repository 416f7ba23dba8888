"""Model provisioning per integration: toggle catalog models, add and remove custom models."""

from __future__ import annotations

from catalog import validation, views
from catalog.commands.common import announce
from catalog.commands.integrations import load, load_visible
from catalog.context import Ctx
from catalog.integration_support import check_custom_host, selection_to_enabled
from catalog.policy import require
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
    if host is not None and host["base_url"].rstrip("/") != doc["base_url"].rstrip("/"):
        # The integration's key is bound (inside keyvault) to one base URL; a model on another host would
        # need the key sent elsewhere. Refuse rather than leak: create a separate integration for it.
        raise KeyrelayError(
            "upstream_not_allowed",
            "a custom model's host must match its integration's credential host; "
            "create a separate integration for another host",
            param="custom_host",
        )
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
    if not await ctx.repo.add_custom_model(who.org_id, doc["_id"], entry):
        raise KeyrelayError("conflict", "a custom model with this slug already exists", param="slug")
    await announce(ctx, who, "integration", doc["_id"], "integration.custom_model.create", {"model": slug})
    return Created(views.custom_model(entry))


async def delete_custom_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteCustomModel) -> Done:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    if not await ctx.repo.remove_custom_model(who.org_id, doc["_id"], cmd.model_slug):
        raise KeyrelayError("model_not_found", "custom model not found", param="model_slug")
    detail = {"model": cmd.model_slug}
    await announce(ctx, who, "integration", doc["_id"], "integration.custom_model.delete", detail)
    return Done()
