"""Providers and their model catalog, as data (`data/*.json`) loaded once into typed Structs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from shared.errors import KeyrelayError
from shared.messages.usage import Pricing

_DEFAULT_FIELDS = [{"name": "api_key", "secret": True, "required": True, "description": "the provider API key"}]


class CredentialField(msgspec.Struct, frozen=True):
    name: str
    secret: bool = False
    required: bool = False
    description: str = ""


class ProviderSpec(msgspec.Struct, frozen=True):
    id: str
    name: str
    api_format: str
    base_url: str
    capabilities: list[str] = []
    credentials: list[CredentialField] = []


class CatalogModel(msgspec.Struct, frozen=True):
    id: str
    pricing: Pricing
    kind: str = "chat"

    def pricing_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self.pricing)  # type: ignore[no-any-return]


class ProviderRegistry:
    def __init__(self, specs: dict[str, ProviderSpec]) -> None:
        self._specs = specs

    def get(self, provider: str) -> ProviderSpec | None:
        return self._specs.get(provider) if isinstance(provider, str) else None

    def public_list(self) -> list[dict[str, Any]]:
        return [msgspec.to_builtins(spec) for spec in self._specs.values()]


class ModelCatalog:
    def __init__(self, models: dict[str, dict[str, CatalogModel]]) -> None:
        self._models = models

    def for_provider(self, provider: str) -> list[CatalogModel]:
        return list(self._models.get(provider, {}).values())

    def get(self, provider: str, model_id: str) -> CatalogModel | None:
        return self._models.get(provider, {}).get(model_id)


def _data(name: str) -> Any:
    return json.loads(resources.files("catalog").joinpath("data", name).read_text(encoding="utf-8"))


def load_provider_registry() -> ProviderRegistry:
    specs = {}
    for provider_id, raw in _data("providers.json").items():
        fields = raw.get("credentials") or _DEFAULT_FIELDS
        specs[provider_id] = msgspec.convert({**raw, "id": provider_id, "credentials": fields}, ProviderSpec)
    return ProviderRegistry(specs)


def _model(raw: dict[str, Any]) -> CatalogModel:
    pricing = Pricing(input_per_mtok=float(raw.get("input", 0)), output_per_mtok=float(raw.get("output", 0)),
                      cached_input_per_mtok=raw.get("cached_input"), cache_write_per_mtok=raw.get("cache_write"),
                      per_request=float(raw.get("per_request", 0)))
    return CatalogModel(id=raw["id"], pricing=pricing, kind=raw.get("kind", "chat"))


def load_model_catalog(extra_file: str | None = None) -> ModelCatalog:
    sources = [_data("models.json")]
    if extra_file:
        sources.append(json.loads(Path(extra_file).read_text(encoding="utf-8")))
    models: dict[str, dict[str, CatalogModel]] = {}
    for source in sources:
        for provider, entries in source.items():
            if provider.startswith("_"):
                continue
            for entry in entries:
                models.setdefault(provider, {})[entry["id"]] = _model(entry)
    return ModelCatalog(models)


def adapter_for(provider: str, custom_host: Mapping[str, Any] | None) -> str:
    if custom_host is not None:
        fmt = str(custom_host.get("api_format", "openai"))
        return "openai" if fmt == "openai" else fmt
    return provider


def resolve_base_url(provider: str, public: Mapping[str, Any], custom_host: Mapping[str, Any] | None,
                     overrides: Mapping[str, str]) -> str:
    """The URL the credential will be bound to: custom host, else operator override, else default."""
    if custom_host is not None:
        return str(custom_host["base_url"]).rstrip("/")
    spec = load_provider_registry().get(provider)
    if spec is None:
        raise KeyrelayError("invalid_request", "unknown provider", param="provider")
    template = overrides.get(provider, spec.base_url)
    values = {"resource_name": str(public.get("resource_name", "")), "location": str(public.get("location", ""))}
    for key, value in values.items():
        placeholder = "{" + key + "}"
        if placeholder in template:
            if not value or not all(c.isalnum() or c == "-" for c in value) or len(value) > 64:
                raise KeyrelayError("invalid_credentials", f"{key} is required (letters, digits and hyphens)",
                                    param=f"credentials.{key}")
            template = template.replace(placeholder, value)
    return template.rstrip("/")
