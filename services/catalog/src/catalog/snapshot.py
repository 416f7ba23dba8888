"""Routing snapshots: everything one project can route, as a lookup table the gateway caches.

Keys are every model string a request may use:
* `@<slug>/<model>` — one integration, one model (enabled catalog models and custom models);
* `<provider>/<model>` — every integration of that provider in scope enabling the model, in
  creation order, load-balanced with equal weights (failover to the others on retryable errors);
* `<model>` alone (a bare name: no `@`, no `/`) — every integration in scope, of any provider,
  enabling a catalog model with that id or alias or a custom model with that slug, in integration
  creation order, load-balanced with equal weights like `<provider>/<model>`;
* `<virtual model>` — project aliases shadow org aliases of the same name; a target that is not
  itself routable for the project is dropped, so an alias never reaches further than the key could.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import msgspec

from catalog.pricing import basis, effective, list_price_of_custom, terms_of
from catalog.providers import ModelCatalog, adapter_for
from shared.messages.catalog import ConfigNode, Route, RouteTarget, RoutingSnapshot, SnapshotConfig
from shared.messages.usage import Pricing

Doc = dict[str, Any]


def _options(integration: Doc, model: str) -> dict[str, str]:
    public = integration.get("credential_public", {})
    opts: dict[str, str] = {}
    if integration["provider"] == "azure":
        deployments = public.get("deployments") or {}
        opts["deployment"] = str(deployments.get(model, model))
        if public.get("api_version"):
            opts["api_version"] = str(public["api_version"])
    elif integration["provider"] == "vertex":
        for key in ("project_id", "location"):
            if public.get(key):
                opts[key] = str(public[key])
    elif integration["provider"] == "baseten" and public.get("deployment_url"):
        opts["auth_scheme"] = "Api-Key"  # a dedicated deployment
    return opts


def _targets(integration: Doc, models_catalog: ModelCatalog) -> dict[str, RouteTarget]:
    out: dict[str, RouteTarget] = {}
    provider = integration["provider"]
    for model_id in integration.get("enabled_models", []):
        known = models_catalog.get(provider, model_id)
        pricing = known.pricing if known is not None else Pricing()
        out[model_id] = _target(integration, model_id, pricing)
    for custom in integration.get("custom_models", []):
        target = _target(integration, custom["slug"], list_price_of_custom(models_catalog, provider, custom))
        out[custom["slug"]] = _on_own_host(integration, target, custom.get("custom_host"))
    return out


def _on_own_host(integration: Doc, target: RouteTarget, host: Doc | None) -> RouteTarget:
    """A custom model on its own host: that host's base URL and format (its adapter); the provider's
    settings (Azure deployments, Vertex project) only while the provider's own adapter serves it.
    `own_host` when the host is not the integration's: the gateway asks keyvault for the key for it."""
    if not host:
        return target
    base_url = str(host["base_url"]).rstrip("/")
    adapter = adapter_for(integration["provider"], host)
    return msgspec.structs.replace(
        target,
        adapter=adapter,
        base_url=base_url,
        own_host=base_url != str(integration["base_url"]).rstrip("/"),
        options=target.options if adapter == target.adapter else {},
    )


def _target(integration: Doc, model: str, list_price: Pricing) -> RouteTarget:
    """A route target priced at the org's effective price, with the list price beside it when they differ."""
    terms = terms_of(integration)
    pricing = effective(terms, model, list_price)
    price_basis = basis(terms, model)
    return RouteTarget(
        integration_id=integration["_id"],
        slug=integration["slug"],
        provider=integration["provider"],
        adapter=str(integration.get("adapter") or integration["provider"]),
        base_url=integration["base_url"],
        model=model,
        options=_options(integration, model),
        pricing=pricing,
        list_pricing=None if pricing == list_price else list_price,
        price_basis=price_basis,
        discount_pct=float(terms.get("discount_pct") or 0.0) if price_basis == "discount" else 0.0,
    )


def is_bare_name(model: str) -> bool:
    """A model string with neither an integration pin (`@`) nor a provider prefix (`/`)."""
    return bool(model) and "@" not in model and "/" not in model


def _add_once(targets: list[RouteTarget], target: RouteTarget) -> None:
    """One integration serves a bare name once, even when several of its spellings match it."""
    if all(t.integration_id != target.integration_id for t in targets):
        targets.append(target)


def build_snapshot(
    org_id: str,
    project_id: str,
    integrations: list[Doc],
    virtual_models: list[Doc],
    models_catalog: ModelCatalog,
    configs: list[Doc] | None = None,
) -> RoutingSnapshot:
    routes: dict[str, Route] = {}
    by_provider: dict[str, list[RouteTarget]] = {}
    by_name: dict[str, list[RouteTarget]] = {}
    for integration in integrations:
        for model, target in _targets(integration, models_catalog).items():
            known = models_catalog.get(integration["provider"], model)
            for spelling in [model, *(known.aliases if known is not None else [])]:
                name = f"@{integration['slug']}/{spelling}"
                routes.setdefault(name, Route(name=name, kind="integration", targets=[target]))
                by_provider.setdefault(f"{integration['provider']}/{spelling}", []).append(target)
                if is_bare_name(spelling):
                    _add_once(by_name.setdefault(spelling, []), target)
    groups: list[tuple[Literal["provider", "model"], dict[str, list[RouteTarget]]]] = [
        ("provider", by_provider),
        ("model", by_name),
    ]
    for kind, grouped in groups:
        for name, targets in grouped.items():
            if name not in routes:
                strategy: Literal["single", "loadbalance"] = "single" if len(targets) == 1 else "loadbalance"
                routes[name] = Route(name=name, kind=kind, strategy=strategy, targets=targets)
    # org-wide aliases first, so project aliases of the same name replace them
    for vm in sorted(virtual_models, key=lambda d: d.get("project_id") is not None):
        targets = []
        for spec in vm.get("targets", []):
            route = routes.get(spec["model"])
            if route is not None and route.kind == "integration":
                targets.append(msgspec.structs.replace(route.targets[0], weight=float(spec.get("weight", 1.0))))
        if (targets or vm.get("config")) and "/" not in vm["name"]:
            routes[vm["name"]] = Route(
                name=vm["name"], kind="virtual", strategy=vm["strategy"], targets=targets, config=vm.get("config")
            )
    snapshot_configs = {}
    for doc in configs or []:
        current = next(v for v in doc["versions"] if v["version"] == doc["current_version"])
        snapshot_configs[doc["name"]] = SnapshotConfig(
            name=doc["name"], version=doc["current_version"], node=msgspec.convert(current["node"], ConfigNode)
        )
    digest = hashlib.blake2b(
        msgspec.json.encode([sorted(routes), sorted((c.name, c.version) for c in snapshot_configs.values())]),
        digest_size=8,
    ).hexdigest()
    return RoutingSnapshot(
        org_id=org_id, project_id=project_id, version=digest, routes=routes, configs=snapshot_configs
    )
