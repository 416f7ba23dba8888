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
from shared.messages.base import ProjectScope
from shared.tokens import new_id
from shared.vault import rules
from shared.vault.assertions import Operation, kept_parts, sign_assertion, write_digest


def validate_header_names(names: list[str], *, custom_host: bool) -> list[str]:
    """Forwarded auth header names (values never reach catalog); auth-style names only for custom hosts."""
    return rules.validate_header_names(names, custom_host=custom_host)


def validate_credential_settings(
    ctx: Ctx, provider: str, creds: m.CredentialInput, *, custom_host: bool
) -> dict[str, Any]:
    """Check the non-secret credential settings against the provider's schema; return them."""
    del ctx
    return validation.validate_public_credentials(
        provider, creds.public, set(creds.secret_fields), custom_host=custom_host
    )


async def check_custom_host(ctx: Ctx, host: m.CustomHost | dict[str, Any] | None) -> dict[str, Any] | None:
    if host is None:
        return None
    base_url = host.base_url if isinstance(host, m.CustomHost) else host["base_url"]
    api_format = host.api_format if isinstance(host, m.CustomHost) else host.get("api_format", "openai")
    await ctx.addresses.check_url_and_host(base_url)
    return {"base_url": base_url.rstrip("/"), "api_format": api_format}


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


def owner_assertion(
    ctx: Ctx,
    who: m.MemberPrincipal,
    operation: Operation,
    integration_id: str,
    *,
    provider: str = "",
    base_url: str = "",
    project_scope: ProjectScope | None = None,
    sealed: bytes = b"",
    keep: str = "",
) -> bytes:
    """Catalog's signed word that this owner asks for exactly this write (keyvault checks the digest)."""
    return sign_assertion(
        ctx.signing_key,
        member_id=who.member_id,
        org_id=who.org_id,
        org_role=who.org_role,
        operation=operation,
        integration_id=integration_id,
        digest=write_digest(
            operation, provider=provider, base_url=base_url, project_scope=project_scope, sealed=sealed, keep=keep
        ),
    )


async def put_credential(
    ctx: Ctx,
    who: m.MemberPrincipal,
    operation: Operation,
    integration_id: str,
    *,
    provider: str,
    base_url: str,
    project_scope: ProjectScope,
    sealed: bytes,
    keep_secret: bool = False,
    keep_headers: bool = False,
) -> None:
    """Store the sealed credential in keyvault under an owner assertion for exactly this write."""
    keep = kept_parts(keep_secret=keep_secret, keep_headers=keep_headers)
    await ctx.vault.put(
        assertion=owner_assertion(
            ctx,
            who,
            operation,
            integration_id,
            provider=provider,
            base_url=base_url,
            project_scope=project_scope,
            sealed=sealed,
            keep=keep,
        ),
        org_id=who.org_id,
        integration_id=integration_id,
        provider=provider,
        base_url=base_url,
        project_scope=project_scope,
        sealed=sealed,
        keep_secret=keep_secret,
        keep_headers=keep_headers,
    )


def integration_doc(
    *,
    org_id: str,
    slug: str,
    provider: str,
    name: str,
    description: str,
    scope: str | list[str],
    custom_host: dict[str, Any] | None,
    base_url: str,
    adapter: str,
    public: dict[str, Any],
    secret_fields: list[str],
    header_names: list[str],
    enabled: list[str],
    created_by: str,
) -> dict[str, Any]:
    return {
        "_id": new_id("int"),
        "org_id": org_id,
        "slug": slug,
        "provider": provider,
        "name": name,
        "description": description,
        "project_scope": scope,
        "custom_host": custom_host,
        "base_url": base_url,
        "adapter": adapter,
        "credential_public": public,
        "secret_fields": sorted(secret_fields),
        "header_names": header_names,
        "enabled_models": enabled,
        "custom_models": [],
        "status": "pending",
        "last_error_class": None,
        "last_used_at": None,
        "created_at": now(),
        "created_by": created_by,
    }
