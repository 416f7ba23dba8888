"""Model provisioning per integration: toggle catalog models, add and remove custom models."""

from __future__ import annotations

from typing import Any

from catalog import validation, views
from catalog.commands.integrations import load, load_visible
from catalog.context import Ctx, Handler, Reply
from catalog.integration_support import check_custom_host, selection_to_enabled
from catalog.policy import require
from shared.errors import KeyrelayError
from shared.messages import catalog as m


async def list_models(ctx: Ctx, who: m.MemberPrincipal, cmd: m.ListModels) -> Reply:
    require(who, cmd)
    doc = await load_visible(ctx, who, cmd.slug)
    enabled = set(doc.get("enabled_models", []))
    catalog_models = [
        {"id": model.id, "enabled": model.id in enabled, "pricing": model.pricing_dict(), "kind": model.kind}
        for model in ctx.models.for_provider(doc["provider"])
    ]
    return Reply(200, {"data": catalog_models, "custom": [views.custom_model(c) for c in doc.get("custom_models", [])]})


async def set_models(ctx: Ctx, who: m.MemberPrincipal, cmd: m.SetModels) -> Reply:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    enabled = selection_to_enabled(ctx, doc["provider"], cmd.selection, doc.get("custom_host") is not None)
    updated = (
        await ctx.repo.update(ctx.repo.integrations, who.org_id, {"_id": doc["_id"]}, {"enabled_models": enabled})
        or doc
    )
    await ctx.events.changed(who.org_id, "integration", doc["_id"])
    ctx.events.audit(
        who, who.org_id, "integration.models", "integration", doc["_id"], detail={"enabled": str(len(enabled))}
    )
    return Reply(200, {"enabled": updated.get("enabled_models", [])})


async def add_custom_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.AddCustomModel) -> Reply:
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
    entry = {
        "slug": slug,
        "base_model": cmd.model.base_model,
        "custom_host": host,
        "pricing": {
            k: v
            for k, v in (
                ("input_per_mtok", cmd.model.pricing.input_per_mtok),
                ("output_per_mtok", cmd.model.pricing.output_per_mtok),
                ("cached_input_per_mtok", cmd.model.pricing.cached_input_per_mtok),
            )
            if v is not None
        },
    }
    if any(p < 0 for p in entry["pricing"].values()):  # type: ignore[union-attr]
        raise KeyrelayError("invalid_request", "prices must not be negative", param="pricing")
    result = await ctx.repo.integrations.update_one(
        {"_id": doc["_id"], "org_id": who.org_id, "custom_models.slug": {"$ne": slug}},
        {"$push": {"custom_models": entry}},
    )
    if result.modified_count != 1:
        raise KeyrelayError("conflict", "a custom model with this slug already exists", param="slug")
    await ctx.events.changed(who.org_id, "integration", doc["_id"])
    ctx.events.audit(
        who, who.org_id, "integration.custom_model.create", "integration", doc["_id"], detail={"model": slug}
    )
    return Reply(201, views.custom_model(entry))


async def delete_custom_model(ctx: Ctx, who: m.MemberPrincipal, cmd: m.DeleteCustomModel) -> Reply:
    require(who, cmd)
    doc = await load(ctx, who.org_id, cmd.slug)
    result = await ctx.repo.integrations.update_one(
        {"_id": doc["_id"], "org_id": who.org_id},
        {"$pull": {"custom_models": {"slug": cmd.model_slug}}},
    )
    if result.modified_count != 1:
        raise KeyrelayError("model_not_found", "custom model not found", param="model_slug")
    await ctx.events.changed(who.org_id, "integration", doc["_id"])
    ctx.events.audit(
        who, who.org_id, "integration.custom_model.delete", "integration", doc["_id"], detail={"model": cmd.model_slug}
    )
    return Reply(204, None)


HANDLERS: dict[type[Any], Handler] = {
    m.ListModels: list_models,
    m.SetModels: set_models,
    m.AddCustomModel: add_custom_model,
    m.DeleteCustomModel: delete_custom_model,
}
