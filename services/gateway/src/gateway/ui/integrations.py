"""Setup → External Keys: the integrations list, the three-step New integration wizard (provider,
details and credentials, model provisioning), the integration page, editing and key replacement.

Credentials are sealed for keyvault by the same edge function the management API uses
(`gateway.api.management._credential_input`); every action is a catalog command.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from litestar import Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from gateway.api.management import _credential_input
from gateway.ui.context import Console, FieldError, action_route, field_error, usd_field
from gateway.ui.render import errors_by_field, page, paginate
from shared.errors import KeyrelayError
from shared.messages import activity as a
from shared.messages import catalog as m
from shared.messages.usage import Pricing
from shared.vault.rules import PUBLIC_CREDENTIAL_FIELDS

SECTION = "integrations"
_MARK_COLOURS = ("#2f6fde", "#b4551f", "#1f8a5b", "#8a3fb8", "#c23a5a", "#2b8a99", "#7a6a12", "#4a5ad0")
_SLUG_CHARS = re.compile(r"[^a-z0-9-]+")


def mark(provider_name: str) -> dict[str, str]:
    """A lettered mark (no third-party logos): initials and a stable colour."""
    words = [w for w in re.split(r"[\s\-_.]+", provider_name) if w]
    letters = "".join(w[0] for w in words[:2]).upper() or "?"
    colour = _MARK_COLOURS[sum(map(ord, provider_name)) % len(_MARK_COLOURS)]
    return {"letters": letters, "colour": colour}


def credential_type(provider: dict[str, Any] | None) -> str:
    names = {f["name"] for f in (provider or {}).get("credentials", [])}
    if "service_account_json" in names:
        return "Service account"
    if "resource_name" in names:
        return "Azure config"
    return "API key"


def scope_label(scope: Any, projects: list[dict[str, Any]]) -> str:
    if scope == "all":
        return "All Projects"
    names = {p["id"]: p["name"] for p in projects}
    return ", ".join(names.get(pid, "another project") for pid in scope or []) or "No projects"


async def _providers(console: Console) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in await console.providers()}


def _row(item: dict[str, Any], providers: dict[str, dict[str, Any]], console: Console) -> dict[str, Any]:
    provider = providers.get(item["provider"])
    name = provider["name"] if provider else item["provider"]
    if item.get("custom_host"):
        name = f"{name} (custom host)"
    return {
        **item,
        "provider_name": name,
        "mark": mark(provider["name"] if provider else item["provider"]),
        "credential_type": credential_type(provider),
        "scope_label": scope_label(item.get("project_scope"), console.projects),
    }


@get("/integrations")
async def list_integrations(console: Console, page_number: int = Parameter(query="page", default=1)) -> Template:
    providers, data = await asyncio.gather(_providers(console), console.run(m.ListIntegrations()))
    paged = paginate(data.get("data", []), page_number)
    rows = [_row(item, providers, console) for item in paged["items"]]
    return page(console, "integrations.html", section=SECTION, rows=rows, pager=paged)


@get("/integrations/new")
async def wizard_provider(console: Console) -> Template:
    _owners_only(console)
    providers = await _providers(console)
    cards = [{**p, "mark": mark(p["name"]), "credential_type": credential_type(p)} for p in providers.values()]
    return page(console, "wizard_provider.html", section=SECTION, cards=cards, step=1)


@get("/integrations/slug-check")
async def slug_check(console: Console, slug: str = "") -> Response[dict[str, Any]]:
    """For the wizard's as-you-type clash check (any member may read integration slugs)."""
    candidate = slug.strip().lower()
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", candidate):
        return Response({"available": False, "reason": "Use 2-64 lowercase letters, digits and dashes."})
    try:
        await console.run(m.GetIntegration(slug=candidate))
    except KeyrelayError as exc:
        if exc.code in {"not_found", "integration_not_found"}:
            return Response({"available": True, "reason": ""})
        raise
    return Response({"available": False, "reason": "Another integration already uses this slug."})


def suggest_slug(name: str) -> str:
    return _SLUG_CHARS.sub("-", name.lower()).strip("-")[:64]


def _lines_to_map(text: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        key, found, value = raw.partition(sep)
        if not found or not key.strip():
            raise KeyrelayError("invalid_request", f"write one 'name{sep} value' per line", param="_lines")
        out[key.strip()] = value.strip()
    return out


async def _credentials(form: dict[str, Any], provider: dict[str, Any]) -> dict[str, Any]:
    creds: dict[str, Any] = {}
    for spec in provider.get("credentials", []):
        name = spec["name"]
        value = form.get(f"cred_{name}")
        if spec["type"] == "json":
            upload = form.get(f"cred_{name}_file")
            if upload is not None and hasattr(upload, "read"):
                content = await upload.read()
                if content:
                    value = content.decode("utf-8", "replace")
        if spec["type"] == "map":
            try:
                value = _lines_to_map(str(value or ""), "=") if value else {}
            except KeyrelayError:
                raise KeyrelayError(
                    "invalid_request", "write one 'model = deployment' per line", param=f"credentials.{name}"
                ) from None
        if value in (None, "", {}):
            continue
        creds[name] = value if not isinstance(value, str) else value.strip()
    return creds


def _custom_host(form: dict[str, Any]) -> m.CustomHost | None:
    base_url = str(form.get("custom_base_url") or "").strip()
    if not base_url:
        return None
    api_format = str(form.get("custom_api_format") or "openai")
    if api_format not in {"openai", "anthropic", "cohere"}:
        raise KeyrelayError("invalid_request", "choose OpenAI, Anthropic or Cohere", param="custom_host")
    return m.CustomHost(base_url=base_url, api_format=api_format)  # type: ignore[arg-type]


def _headers(form: dict[str, Any]) -> dict[str, str]:
    try:
        return _lines_to_map(str(form.get("custom_headers") or ""), ":")
    except KeyrelayError:
        raise KeyrelayError(
            "invalid_header", "write one 'Header-Name: value' per line", param="custom_headers"
        ) from None


def _scope(form: dict[str, Any]) -> Any:
    if form.get("scope_mode", "all") == "all":
        return "all"
    chosen = form.get("scope_projects") or []
    return [chosen] if isinstance(chosen, str) else list(chosen)


def _public_values(form: dict[str, Any]) -> dict[str, Any]:
    """What a re-rendered form may show again: a credential field only if it is one of the public
    settings the edge leaves unsealed (the same list), never a header value or the CSRF token."""
    return {
        k: v
        for k, v in form.items()
        if isinstance(v, (str, list))
        and k not in {"custom_headers", "csrf"}
        and (not k.startswith("cred_") or k.removeprefix("cred_") in PUBLIC_CREDENTIAL_FIELDS)
    }


def _wizard_error(exc: KeyrelayError) -> FieldError:
    """Catalog's error, placed at the form field it is about (or at the top of the form)."""
    error = field_error(exc)
    if exc.code == "slug_taken":
        error.param = "slug"
    elif error.param in {"credentials", "custom_host.base_url"}:
        error.param = "_" if error.param == "credentials" else "custom_host"
    elif error.param and error.param.startswith("custom_host"):
        error.param = "custom_host"
    return error


def _details_page(
    console: Console,
    provider: dict[str, Any],
    *,
    values: dict[str, Any],
    error: FieldError | None = None,
    status: int = 200,
    editing: dict[str, Any] | None = None,
) -> Template:
    return page(
        console,
        "wizard_details.html",
        section=SECTION,
        provider=provider,
        mark=mark(provider["name"]),
        values=values,
        errors=errors_by_field(error),
        status=status,
        editing=editing,
        step=2,
    )


@get("/integrations/new/{provider_id:str}")
async def wizard_details(console: Console, provider_id: str, custom: bool = False) -> Response[Any]:
    _owners_only(console)
    providers = await _providers(console)
    provider = providers.get(provider_id)
    if provider is None:
        return Redirect("/ui/integrations/new")
    values: dict[str, Any] = {"scope_mode": "all", "custom_open": custom}
    return _details_page(console, provider, values=values)


@post("/integrations/new/{provider_id:str}")
async def wizard_create(console: Console, provider_id: str) -> Response[Any]:
    form = await console.form()
    providers = await _providers(console)
    provider = providers.get(provider_id)
    if provider is None:
        return Redirect("/ui/integrations/new")
    name = str(form.get("name") or "").strip()
    slug = str(form.get("slug") or "").strip() or suggest_slug(name)
    try:
        command = m.CreateIntegration(
            provider=provider_id,
            name=name,
            slug=slug,
            description=str(form.get("description") or "").strip(),
            project_scope=_scope(form),
            credentials=_credential_input(console.gw, await _credentials(form, provider), _headers(form)),
            custom_host=_custom_host(form),
            models=m.ModelSelection(none=True),
        )
        await console.run(command)
    except KeyrelayError as exc:
        return _details_page(
            console, provider, values=_public_values(form), error=_wizard_error(exc), status=exc.status
        )
    return Redirect(f"/ui/integrations/{slug}/models?wizard=1")


async def _integration(console: Console, slug: str) -> dict[str, Any]:
    return await console.run(m.GetIntegration(slug=slug))  # type: ignore[no-any-return]


def _references(slug: str, virtual: list[dict[str, Any]], configs: list[dict[str, Any]]) -> dict[str, list[str]]:
    marker = f"@{slug}/"

    def in_node(node: Any) -> bool:
        if isinstance(node, dict):
            if node.get("integration") == slug:
                return True
            return any(in_node(v) for v in node.values())
        if isinstance(node, list):
            return any(in_node(v) for v in node)
        return False

    return {
        "virtual_models": [
            v["name"] for v in virtual if any(str(t.get("model", "")).startswith(marker) for t in v.get("targets", []))
        ],
        "configs": [c["name"] for c in configs if in_node(c)],
    }


@get("/integrations/{slug:str}")
async def integration_page(console: Console, slug: str) -> Template:
    item, providers, virtual_reply, configs_reply, recent, summary = await asyncio.gather(
        _integration(console, slug),
        _providers(console),
        console.run(m.ListVirtualModels()),
        console.run(m.ListConfigs()),
        console.activity(a.ListRequestRecords(scope=console.scope, integration=slug, limit=10)),
        console.activity(a.SummarizeRequests(scope=console.scope, group_by="integration")),
    )
    row = _row(item, providers, console)
    virtual = virtual_reply.get("data", [])
    configs = configs_reply.get("data", [])
    stats = next((r for r in summary.get("data", []) if r.get("key") == slug), None)
    error_rate = (stats["errors"] / stats["requests"] * 100) if stats and stats.get("requests") else None
    return page(
        console,
        "integration.html",
        section=SECTION,
        i=row,
        references=_references(slug, virtual, configs),
        recent=recent.get("data", []),
        stats=stats,
        error_rate=error_rate,
        wizard=False,
    )


@get("/integrations/{slug:str}/edit")
async def edit_form(console: Console, slug: str) -> Template:
    _owners_only(console)
    item, providers = await asyncio.gather(_integration(console, slug), _providers(console))
    scope = item.get("project_scope", "all")
    values = {
        "name": item["name"],
        "slug": item["slug"],
        "description": item.get("description", ""),
        "scope_mode": "all" if scope == "all" else "chosen",
        "scope_projects": [] if scope == "all" else scope,
    }
    provider = providers.get(item["provider"], {"id": item["provider"], "name": item["provider"], "credentials": []})
    return _details_page(console, provider, values=values, editing=item)


@post("/integrations/{slug:str}/edit")
async def edit_save(console: Console, slug: str) -> Response[Any]:
    form = await console.form()
    item = await _integration(console, slug)
    providers = await _providers(console)
    provider = providers.get(item["provider"], {"id": item["provider"], "name": item["provider"], "credentials": []})
    try:
        status = form.get("status")
        await console.run(
            m.UpdateIntegration(
                slug=slug,
                name=str(form.get("name") or "").strip(),
                description=str(form.get("description") or "").strip(),
                project_scope=_scope(form),
                status=status if status in {"active", "disabled"} else None,
            )
        )
    except KeyrelayError as exc:
        return _details_page(
            console, provider, values=_public_values(form), error=_wizard_error(exc), status=exc.status, editing=item
        )
    return Redirect(f"/ui/integrations/{slug}/models?edit=1")


def _owners_only(console: Console) -> None:
    """Shapes the UI only: catalog refuses these commands to non-owners whatever the page does."""
    if not console.is_owner:
        raise KeyrelayError("owner_required", "only organization owners may change credentials and integrations")


@get("/integrations/{slug:str}/credentials")
async def credentials_form(console: Console, slug: str) -> Template:
    _owners_only(console)
    item, providers = await asyncio.gather(_integration(console, slug), _providers(console))
    return page(
        console,
        "credentials.html",
        section=SECTION,
        i=_row(item, providers, console),
        provider=providers.get(item["provider"], {"credentials": []}),
        values=dict(item.get("credential_settings") or {}),
        errors={},
    )


@post("/integrations/{slug:str}/credentials")
async def credentials_save(console: Console, slug: str) -> Response[Any]:
    form = await console.form()
    item = await _integration(console, slug)
    providers = await _providers(console)
    provider = providers.get(item["provider"], {"credentials": []})
    try:
        await console.run(
            m.PutCredentials(
                slug=slug,
                credentials=_credential_input(console.gw, await _credentials(form, provider), _headers(form)),
                custom_host=_custom_host(form),
            )
        )
    except KeyrelayError as exc:
        return page(
            console,
            "credentials.html",
            section=SECTION,
            status=exc.status,
            i=_row(item, providers, console),
            provider=provider,
            values=_public_values(form),
            errors=errors_by_field(_wizard_error(exc)),
        )
    return Redirect(f"/ui/integrations/{slug}")


@get("/integrations/{slug:str}/models")
async def models_page(console: Console, slug: str, wizard: bool = False, edit: bool = False) -> Template:
    return await _models_page(console, slug, wizard=wizard or edit, editing=edit)


async def _models_page(
    console: Console,
    slug: str,
    *,
    wizard: bool = False,
    editing: bool = False,
    error: FieldError | None = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> Template:
    item, providers, models = await asyncio.gather(
        _integration(console, slug), _providers(console), console.run(m.ListModels(slug=slug))
    )
    return page(
        console,
        "models.html",
        section=SECTION,
        i=_row(item, providers, console),
        models=models.get("data", []),
        custom=models.get("custom", []),
        wizard=wizard,
        editing=editing,
        step=3,
        errors=errors_by_field(error),
        values=values or {},
        status=status,
    )


@post("/integrations/{slug:str}/models")
async def models_save(console: Console, slug: str) -> Response[Any]:
    form = await console.form()
    preset = form.get("preset")
    enabled = form.get("enabled") or []
    enabled = [enabled] if isinstance(enabled, str) else list(enabled)
    if preset == "all":
        selection = m.ModelSelection(all=True)
    elif preset == "none":
        selection = m.ModelSelection(none=True)
    else:
        selection = m.ModelSelection(enabled=enabled) if enabled else m.ModelSelection(none=True)
    try:
        await console.run(m.SetModels(slug=slug, selection=selection))
    except KeyrelayError as exc:
        return await _models_page(console, slug, error=field_error(exc), status=exc.status)
    if preset in {"all", "none"}:
        return Redirect(f"/ui/integrations/{slug}/models" + ("?wizard=1" if form.get("wizard") else ""))
    return Redirect(f"/ui/integrations/{slug}")


def _price(form: dict[str, Any], name: str) -> float:
    price = usd_field(
        form,
        name,
        most=1_000_000,
        not_a_number="enter a price in USD, e.g. 0.50",
        out_of_range="the price must be between 0 and 1,000,000",
    )
    return price or 0.0


@post("/integrations/{slug:str}/custom-models")
async def custom_model_add(console: Console, slug: str) -> Response[Any]:
    form = await console.form()
    try:
        base_url = str(form.get("model_base_url") or "").strip()
        api_format = str(form.get("model_api_format") or "openai")
        model = m.CustomModel(
            slug=str(form.get("model_slug") or "").strip(),
            base_model=str(form.get("base_model") or "").strip() or None,
            custom_host=m.CustomHost(base_url=base_url, api_format=api_format) if base_url else None,  # type: ignore[arg-type]
            pricing=Pricing(input_per_mtok=_price(form, "input_price"), output_per_mtok=_price(form, "output_price")),
        )
        await console.run(m.AddCustomModel(slug=slug, model=model))
    except KeyrelayError as exc:
        error = field_error(exc)
        if error.param in {"slug", "model.slug"}:
            error.param = "model_slug"
        elif error.param == "base_url" or (error.param or "").startswith("custom_host"):
            error.param = "custom_host"  # shown at the model's "Custom host" field
        return await _models_page(
            console, slug, wizard=bool(form.get("wizard")), error=error, status=exc.status, values=_public_values(form)
        )
    return Redirect(f"/ui/integrations/{slug}/models" + ("?wizard=1" if form.get("wizard") else ""))


custom_model_delete = action_route(
    "/integrations/{slug:str}/custom-models/{model_slug:str}/delete",
    m.DeleteCustomModel,
    "/ui/integrations/{slug}/models",
    "custom_model_delete",
)


integration_delete = action_route(
    "/integrations/{slug:str}/delete", m.DeleteIntegration, "/ui/integrations", "integration_delete"
)


INTEGRATION_ROUTES = [
    list_integrations,
    wizard_provider,
    slug_check,
    wizard_details,
    wizard_create,
    integration_page,
    edit_form,
    edit_save,
    credentials_form,
    credentials_save,
    models_page,
    models_save,
    custom_model_add,
    custom_model_delete,
    integration_delete,
]
