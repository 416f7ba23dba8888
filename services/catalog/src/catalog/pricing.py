"""An integration's economics: the org's own prices ("your economics") over the catalog's list prices.

Stored on the integration as `pricing: {discount_pct, models: [{model, ...prices}], updated_at,
updated_by}` (a list: model ids such as `gpt-4.1` hold dots, which field names should not).
The effective price of a model is its entry in `models` (the whole price: fields it leaves out cost
nothing, except `cached_input_per_mtok`, which defaults to the input price as in the catalog), else
its list price (catalog, or the custom model's own) less `discount_pct`. The routing snapshot carries
both, so the gateway charges the effective price and records the list price beside it.
"""

from __future__ import annotations

import math
from typing import Any, Final

import msgspec

from catalog.providers import ModelCatalog
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.usage import Pricing

Doc = dict[str, Any]

MAX_PRICE: Final = 1_000_000.0  # USD per unit; as `shared.messages.bounds.PricePerUnit`
MAX_MODELS: Final = 1000
PRICE_FIELDS: Final = tuple(m.ModelPrice.__struct_fields__)


def terms_of(doc: Doc) -> Doc:
    """The stored terms of an integration (none: no discount, no explicit prices), `models` by id."""
    stored = doc.get("pricing") or {}
    models = {entry["model"]: {k: v for k, v in entry.items() if k != "model"} for entry in stored.get("models", [])}
    return {**stored, "models": models}


def stored_terms(terms: Doc) -> Doc:
    """`terms` (as `checked_terms` answers them) in their stored form."""
    return {**terms, "models": [{"model": model, **prices} for model, prices in terms["models"].items()]}


def explicit_pricing(entry: Doc) -> Pricing:
    """An explicit entry as a `Pricing` (fields it leaves out are free, cached input as input)."""
    return msgspec.convert({k: v for k, v in entry.items() if v is not None and k in PRICE_FIELDS}, Pricing)


def effective(terms: Doc, model: str, list_price: Pricing) -> Pricing:
    """The price the org pays for `model` on this integration."""
    entry = (terms.get("models") or {}).get(model)
    if entry is not None:
        return explicit_pricing(entry)
    return list_price.discounted(float(terms.get("discount_pct") or 0.0))


def basis(terms: Doc, model: str) -> m.PriceBasis:
    """Where a model's effective price comes from: `explicit`, `discount` or `list`."""
    if model in (terms.get("models") or {}):
        return "explicit"
    return "discount" if terms.get("discount_pct") else "list"


def _number(value: float | None, param: str, *, high: float = MAX_PRICE, what: str = "a price") -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0:
        raise KeyrelayError("invalid_price", f"{what} must be a number of at least 0", param=param)
    if value > high:
        raise KeyrelayError("invalid_price", f"{what} must be at most {high:g}", param=param)


def checked_terms(models: ModelCatalog, integration: Doc, terms: m.PricingTerms) -> Doc:
    """The terms to store: a discount of 0-100 %, prices of 0-1,000,000 USD, for models this
    integration can serve (catalog ids or aliases of its provider, or its custom models), by canonical id."""
    if not math.isfinite(terms.discount_pct) or not 0 <= terms.discount_pct <= 100:
        raise KeyrelayError("invalid_discount", "discount_pct must be between 0 and 100", param="discount_pct")
    if len(terms.models) > MAX_MODELS:
        raise KeyrelayError("invalid_request", f"at most {MAX_MODELS} model prices", param="models")
    custom = {c["slug"] for c in integration.get("custom_models", [])}
    stored: dict[str, Doc] = {}
    for name, price in terms.models.items():
        model = name if name in custom else models.canonical_id(integration["provider"], name)
        if model is None:
            raise KeyrelayError(
                "invalid_model",
                f"{name!r} is neither a {integration['provider']} catalog model nor a custom model of this integration",
                param=f"models.{name}",
            )
        entry = {k: v for k, v in msgspec.to_builtins(price).items() if v is not None}
        if not entry:
            raise KeyrelayError("invalid_price", f"give {name!r} at least one price", param=f"models.{name}")
        for field, value in entry.items():
            _number(value, f"models.{name}.{field}")
        stored[model] = entry
    return {"discount_pct": terms.discount_pct, "models": stored}


def view(models: ModelCatalog, integration: Doc) -> Doc:
    """The terms as callers see them, with each served model's list and effective price."""
    terms = terms_of(integration)
    provider = integration["provider"]
    prices = []
    for model_id in integration.get("enabled_models", []):
        known = models.get(provider, model_id)
        listed = known.pricing if known is not None else Pricing()
        prices.append(
            _price_row(terms, model_id, listed, known.price_source if known else "", known.price_date if known else "")
        )
    for custom in integration.get("custom_models", []):
        listed = list_price_of_custom(models, provider, custom)
        prices.append(_price_row(terms, custom["slug"], listed, "custom model", ""))
    updated_at = terms.get("updated_at")
    return {
        "discount_pct": terms.get("discount_pct", 0.0),
        "models": terms.get("models", {}),
        "updated_at": updated_at.isoformat() if updated_at is not None else None,
        "updated_by": terms.get("updated_by"),
        "prices": prices,
    }


def _price_row(terms: Doc, model: str, listed: Pricing, source: str, date: str) -> Doc:
    return {
        "model": model,
        "basis": basis(terms, model),
        "list": msgspec.to_builtins(listed),
        "effective": msgspec.to_builtins(effective(terms, model, listed)),
        "price_source": source,
        "price_date": date,
    }


def list_price_of_custom(models: ModelCatalog, provider: str, custom: Doc) -> Pricing:
    """A custom model's own prices, else (none given) its base model's catalog price."""
    pricing = msgspec.convert(custom.get("pricing") or {}, Pricing)
    if not custom.get("pricing") and custom.get("base_model"):
        base = models.get(provider, custom["base_model"])
        pricing = base.pricing if base is not None else pricing
    return pricing
