"""Providers and their model catalog, as data (`data/*.json`) loaded once into typed Structs.

* `load_provider_registry()` — the 17 supported providers: display name, API format family,
  default base URL (a template for Azure `{resource_name}` and Vertex `{location}`), auth style,
  capabilities and the credential schema the management API validates against.
* `load_model_catalog(extra_file)` — current models per provider with prices; an operator file
  (`KEYRELAY_MODELS_FILE`, same format) adds models or replaces them by id.
* `resolve_base_url()` / `adapter_for()` — where an integration's calls go, and which adapter
  speaks to it.

Malformed data fails at start-up with the file and the entry named, never later in a request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec

from shared.errors import KeyrelayError
from shared.messages.usage import Pricing

ApiFormat = Literal["openai", "anthropic", "gemini", "fal", "pollo"]
CustomHostFormat = Literal["openai", "anthropic", "cohere"]
Capability = Literal["chat", "embeddings", "images", "video"]
ModelKind = Literal["chat", "embedding", "image", "video"]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_URL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class CatalogDataError(ValueError):
    """The provider or model data is malformed (a start-up error naming the file and entry)."""


class CredentialField(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One credential setting: secret ones go sealed to keyvault, the others are stored in clear."""

    name: str
    type: Literal["string", "json", "map"] = "string"
    secret: bool = False
    required: bool = False
    description: str = ""
    pattern: str | None = None  # for `string` settings
    default: str | None = None


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    api_format: ApiFormat
    base_url: str
    auth: str
    capabilities: list[Capability]
    credentials: list[CredentialField]
    base_url_variants: dict[str, dict[str, str]] = {}
    base_url_setting: str | None = None  # a credential setting that, when given, is the whole base URL

    def field(self, name: str) -> CredentialField | None:
        return next((f for f in self.credentials if f.name == name), None)

    @property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(f.name for f in self.credentials if f.secret)


class _ProvidersFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default_credentials: list[CredentialField]
    custom_host_formats: list[CustomHostFormat]
    providers: dict[str, dict[str, Any]]


class ProviderRegistry:
    """The supported providers, by id, in the data file's order."""

    def __init__(self, specs: Mapping[str, ProviderSpec], custom_host_formats: list[str]) -> None:
        self._specs = dict(specs)
        self.custom_host_formats: tuple[str, ...] = tuple(custom_host_formats)

    def ids(self) -> list[str]:
        return list(self._specs)

    def all(self) -> list[ProviderSpec]:
        return list(self._specs.values())

    def get(self, provider: str) -> ProviderSpec | None:
        return self._specs.get(provider) if isinstance(provider, str) else None

    def require(self, provider: str) -> ProviderSpec:
        """The provider's spec, or `invalid_request` naming the `provider` field."""
        spec = self.get(provider)
        if spec is None:
            raise KeyrelayError("invalid_request", "unknown provider (see GET /api/v1/providers)", param="provider")
        return spec

    def public_list(self) -> list[dict[str, Any]]:
        """`GET /providers` body items: everything but internal URL variants."""
        items = [msgspec.to_builtins(spec) for spec in self._specs.values()]
        return [{k: v for k, v in item.items() if k != "base_url_variants"} for item in items]


def _read_json(source: str | Path) -> Any:
    try:
        if isinstance(source, Path):
            text = source.read_text(encoding="utf-8")
        else:
            text = resources.files("catalog").joinpath("data", source).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise CatalogDataError(f"{source}: cannot read JSON ({type(exc).__name__})") from None


@cache
def load_provider_registry() -> ProviderRegistry:
    """The registry from `data/providers.json`, built once per process."""
    try:
        data = _read_json("providers.json")
        raw = msgspec.convert({k: v for k, v in data.items() if not k.startswith("_")}, _ProvidersFile)
    except msgspec.ValidationError as exc:
        raise CatalogDataError(f"providers.json: {exc}") from None
    specs: dict[str, ProviderSpec] = {}
    for provider_id, entry in raw.providers.items():
        fields = entry.get("credentials", raw.default_credentials)
        try:
            specs[provider_id] = msgspec.convert({**entry, "id": provider_id, "credentials": fields}, ProviderSpec)
        except msgspec.ValidationError as exc:
            raise CatalogDataError(f"providers.json: provider {provider_id!r}: {exc}") from None
    return ProviderRegistry(specs, list(raw.custom_host_formats))


# --- base URLs and adapters ----------------------------------------------------------------------
def adapter_for(provider: str, custom_host: Mapping[str, Any] | None) -> str:
    """The adapter name: the provider id, also on a custom host speaking the provider's own format
    (only the base URL changes: its quirks stay); else the custom host's `api_format` ("openai" |
    "anthropic" | "cohere")."""
    if custom_host is not None:
        registry = load_provider_registry()
        fmt = str(custom_host.get("api_format") or "openai")
        if fmt not in registry.custom_host_formats:
            raise KeyrelayError(
                "invalid_request",
                "custom_host.api_format must be openai, anthropic or cohere",
                param="custom_host.api_format",
            )
        spec = registry.get(provider)
        return provider if spec is not None and spec.api_format == fmt else fmt
    return provider


def resolve_base_url(
    provider: str,
    credentials_public_fields: Mapping[str, Any],
    custom_host: Mapping[str, Any] | None,
    overrides: Mapping[str, str],
) -> str:
    """The base URL an integration is bound to, without a trailing slash.

    Order: the custom host's `base_url`; else the provider's URL setting (`base_url_setting`, e.g. a
    Baseten `deployment_url`) when given; else the operator's `KEYRELAY_PROVIDER_BASE_URLS[provider]`;
    else a `base_url_variants` entry picked by a setting (Vertex `location=global` -> the global
    host); else the provider default. `{resource_name}` / `{location}` placeholders are filled from
    the credential's public settings, which must then be present and URL-safe (`invalid_credentials`).
    The result still has to pass the address policy (`AddressPolicy.check_url_and_host`).
    """
    if custom_host is not None:
        return str(custom_host["base_url"]).rstrip("/")
    spec = load_provider_registry().require(provider)
    own = credentials_public_fields.get(spec.base_url_setting) if spec.base_url_setting else None
    if isinstance(own, str) and own:
        return own.rstrip("/")  # Baseten's dedicated deployment URL
    template = overrides.get(provider)
    if template is None:
        template = _variant(spec, credentials_public_fields) or spec.base_url
    return _fill(template, credentials_public_fields).rstrip("/")


def _variant(spec: ProviderSpec, public: Mapping[str, Any]) -> str | None:
    for setting, urls in spec.base_url_variants.items():
        value = public.get(setting)
        if isinstance(value, str) and value in urls:
            return urls[value]
    return None


def _fill(template: str, public: Mapping[str, Any]) -> str:
    def value_of(match: re.Match[str]) -> str:
        key = match.group(1)
        value = public.get(key)
        if not isinstance(value, str) or not _URL_PART.fullmatch(value):
            raise KeyrelayError(
                "invalid_credentials",
                f"credentials.{key} is required here (lower-case letters, digits and inner hyphens)",
                param=f"credentials.{key}",
            )
        return value

    return _PLACEHOLDER.sub(value_of, template)


# --- model catalog -------------------------------------------------------------------------------
# a models file names the per-million-token prices shorter than `Pricing` does
_PRICE_KEYS = {
    "input_per_mtok": "input",
    "output_per_mtok": "output",
    "cached_input_per_mtok": "cached_input",
    "cache_write_per_mtok": "cache_write",
}


class _ModelEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename=_PRICE_KEYS):
    """One model of a models file: its prices are `Pricing`'s fields (checked against its bounds)."""

    id: str
    kind: ModelKind = "chat"
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    per_request: float = 0.0
    aliases: list[str] = []
    price_source: str = ""
    price_date: str = ""  # ISO date the price was taken (checked) at its source


class CatalogModel(msgspec.Struct, frozen=True, kw_only=True):
    """A model a provider serves, with its id exactly as the provider's API takes it."""

    id: str
    pricing: Pricing
    kind: ModelKind = "chat"
    aliases: list[str] = []
    price_source: str = ""
    price_date: str = ""

    def pricing_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self.pricing)  # type: ignore[no-any-return]


def _model(entry: _ModelEntry) -> CatalogModel:
    try:
        pricing = msgspec.convert(entry, Pricing, from_attributes=True)
    except msgspec.ValidationError:
        msg = f"model {entry.id!r}: prices must not be negative (nor over a million USD a unit)"
        raise CatalogDataError(msg) from None
    if entry.price_date:
        try:
            date.fromisoformat(entry.price_date)
        except ValueError:
            raise CatalogDataError(f"model {entry.id!r}: price_date must be a date (YYYY-MM-DD)") from None
    return CatalogModel(
        id=entry.id,
        pricing=pricing,
        kind=entry.kind,
        aliases=list(entry.aliases),
        price_source=entry.price_source,
        price_date=entry.price_date,
    )


class ModelCatalog:
    """Models by provider; `get` also accepts an alias (e.g. `claude-opus-4.8` -> `claude-opus-4-8`)."""

    def __init__(self, models: Mapping[str, Mapping[str, CatalogModel]]) -> None:
        self._models = {provider: dict(by_id) for provider, by_id in models.items()}
        self._aliases = {
            provider: {alias: model.id for model in by_id.values() for alias in model.aliases}
            for provider, by_id in self._models.items()
        }

    def providers(self) -> list[str]:
        return list(self._models)

    def for_provider(self, provider: str) -> list[CatalogModel]:
        return list(self._models.get(provider, {}).values())

    def canonical_id(self, provider: str, model_id: str) -> str | None:
        """The provider's API id for `model_id` or one of its aliases; None if unknown."""
        if model_id in self._models.get(provider, {}):
            return model_id
        return self._aliases.get(provider, {}).get(model_id)

    def get(self, provider: str, model_id: str) -> CatalogModel | None:
        canonical = self.canonical_id(provider, model_id)
        return None if canonical is None else self._models[provider][canonical]


def _entries(source: Any, name: str, known: set[str]) -> dict[str, list[_ModelEntry]]:
    if not isinstance(source, dict):
        raise CatalogDataError(f"{name}: expected an object of provider -> model list")
    out: dict[str, list[_ModelEntry]] = {}
    for provider, items in source.items():
        if provider.startswith("_"):
            continue
        if provider not in known:
            raise CatalogDataError(f"{name}: unknown provider {provider!r}")
        try:
            out[provider] = msgspec.convert(items, list[_ModelEntry])
        except msgspec.ValidationError as exc:
            raise CatalogDataError(f"{name}: provider {provider!r}: {exc}") from None
    return out


def load_model_catalog(extra_file: str | Path | None = None) -> ModelCatalog:
    """The built-in catalog, then `extra_file` (same format): its entries add or replace by id."""
    order = load_provider_registry().ids()
    known = set(order)
    sources = [_entries(_read_json("models.json"), "models.json", known)]
    if extra_file:
        path = Path(extra_file)
        sources.append(_entries(_read_json(path), path.name, known))
    models: dict[str, dict[str, CatalogModel]] = {provider: {} for provider in order}
    for source in sources:
        for provider, entries in source.items():
            for entry in entries:
                models[provider][entry.id] = _model(entry)
    return ModelCatalog(models)
