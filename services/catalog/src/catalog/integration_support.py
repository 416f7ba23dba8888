"""Rules shared by the integration and model commands: validation, URL binding, model selection.

Glue between the commands and the catalog data (`catalog.providers`), input rules
(`catalog.validation`), the outbound address policy (`shared.netpolicy`) and owner assertions for
keyvault (`shared.vault.assertions`).
"""

from __future__ import annotations

from typing import Any

from catalog import validation
from catalog.context import Ctx
from catalog.providers import adapter_for, resolve_base_url
from catalog.repository import now
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages import keyvault as kv
from shared.tokens import new_id
from shared.vault import rules
from shared.vault.assertions import Operation, kept_parts, sign_assertion, write_digest


async def check_custom_host(ctx: Ctx, host: m.CustomHost | dict[str, Any] | None) -> dict[str, Any] | None:
    if host is None:
        return None
    base_url = host.base_url if isinstance(host, m.CustomHost) else host["base_url"]
    api_format = host.api_format if isinstance(host, m.CustomHost) else host.get("api_format", "openai")
    await ctx.addresses.check_url_and_host(base_url)
    return {"base_url": base_url.rstrip("/"), "api_format": api_format}


async def bind_credential(
    ctx: Ctx, provider: str, creds: m.CredentialInput, custom_host: dict[str, Any] | None
) -> dict[str, Any]:
    """What an integration stores of its credential: the non-secret settings (checked against the
    provider's schema), the names of the secret fields and forwarded headers (values never reach
    catalog), and the base URL the key is bound to (checked against the address policy) with its adapter."""
    public = validation.validate_public_credentials(
        provider, creds.public, set(creds.secret_fields), custom_host=custom_host is not None
    )
    base_url, adapter = await resolve_binding(ctx, provider, public, custom_host)
    return {
        "custom_host": custom_host,
        "base_url": base_url,
        "adapter": adapter,
        "credential_public": public,
        "secret_fields": sorted(creds.secret_fields),
        "header_names": rules.validate_header_names(creds.header_names, custom_host=custom_host is not None),
    }


async def resolve_binding(
    ctx: Ctx, provider: str, public: dict[str, Any], custom_host: dict[str, Any] | None
) -> tuple[str, str]:
    """The base URL the credential is bound to (checked against the address policy) and the adapter."""
    base_url = resolve_base_url(provider, public, custom_host, ctx.settings.provider_base_urls)
    await ctx.addresses.check_url_and_host(base_url)
    return base_url, adapter_for(provider, custom_host)


def selection_to_enabled(ctx: Ctx, provider: str, selection: m.ModelSelection, custom_host: bool) -> list[str]:
    known = [model.id for model in ctx.models.for_provider(provider)]
    if selection.none:
        return []
    if selection.all:
        return known
    # aliases (`claude-opus-4.8`) are stored under the provider's own API id (`claude-opus-4-8`)
    requested = [ctx.models.canonical_id(provider, model) or model for model in selection.enabled or []]
    enabled = list(dict.fromkeys(requested))
    unknown = [model for model in enabled if model not in known]
    if unknown and not custom_host:
        raise KeyrelayError(
            "model_not_found", "not a catalog model of this provider: add it as a custom model", param="models.enabled"
        )
    return enabled


def model_hosts(integration: dict[str, Any]) -> list[str]:
    """The custom models' own hosts besides the integration's base URL: where keyvault must also let its key go."""
    own = str(integration["base_url"]).rstrip("/")
    hosts = {
        str(custom["custom_host"]["base_url"]).rstrip("/")
        for custom in integration.get("custom_models", [])
        if custom.get("custom_host")
    }
    return sorted(hosts - {own})


async def bind_model_hosts(ctx: Ctx, who: m.MemberPrincipal, integration: dict[str, Any]) -> None:
    """Tell keyvault (under an owner assertion for exactly this set) which custom-model hosts the key may go to."""
    hosts = model_hosts(integration)
    await ctx.vault.set_model_hosts(
        assertion=owner_assertion(ctx, who, "hosts", integration["_id"], base_urls=hosts),
        org_id=who.org_id,
        integration_id=integration["_id"],
        base_urls=hosts,
    )


def owner_assertion(ctx: Ctx, who: m.MemberPrincipal, operation: Operation, integration_id: str, **write: Any) -> bytes:
    """Catalog's signed word that this owner asks for exactly this write: `write` is what keyvault
    digests for the operation (`shared.vault.assertions.write_digest`) and checks against the request."""
    return sign_assertion(
        ctx.signing_key,
        member_id=who.member_id,
        org_id=who.org_id,
        org_role=who.org_role,
        operation=operation,
        integration_id=integration_id,
        digest=write_digest(operation, **write),
    )


async def put_credential(
    ctx: Ctx,
    who: m.MemberPrincipal,
    operation: Operation,
    integration: dict[str, Any],
    *,
    base_url: str,
    sealed: bytes,
    keep_secret: bool = False,
    keep_headers: bool = False,
) -> None:
    """Store the integration's sealed credential in keyvault, bound to `base_url`, under an owner
    assertion for exactly this write."""
    write: dict[str, Any] = {
        "provider": integration["provider"],
        "base_url": base_url,
        "project_scope": integration["project_scope"],
        "sealed": sealed,
    }
    keep = kept_parts(keep_secret=keep_secret, keep_headers=keep_headers)
    integration_id = integration["_id"]
    await ctx.vault.put(
        kv.PutCredential(
            assertion=owner_assertion(ctx, who, operation, integration_id, keep=keep, **write),
            org_id=who.org_id,
            integration_id=integration_id,
            keep_secret=keep_secret,
            keep_headers=keep_headers,
            **write,
        )
    )


def integration_doc(
    *,
    org_id: str,
    slug: str,
    provider: str,
    name: str,
    description: str,
    scope: str | list[str],
    binding: dict[str, Any],
    enabled: list[str],
    created_by: str,
) -> dict[str, Any]:
    """A new integration, `pending` until keyvault has stored its credential."""
    return {
        "_id": new_id("int"),
        "org_id": org_id,
        "slug": slug,
        "provider": provider,
        "name": name,
        "description": description,
        "project_scope": scope,
        **binding,
        "enabled_models": enabled,
        "custom_models": [],
        "status": "pending",
        "last_error_class": None,
        "last_used_at": None,
        "created_at": now(),
        "created_by": created_by,
    }
