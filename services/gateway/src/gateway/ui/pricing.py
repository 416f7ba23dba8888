"""External Keys → an integration's pricing ("your economics"): the discount on list prices and the
explicit (negotiated) price of each model, beside its list price. Owners edit; admins of a project
the integration serves read; catalog decides both (`GetPricing`, `PutPricing`)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get, post
from litestar.response import Redirect, Template

from gateway.ui.context import Console, FieldError, field_error
from gateway.ui.render import errors_by_field, page
from shared.errors import KeyrelayError
from shared.messages import catalog as m

SECTION = "integrations"
FIELDS: Final = (
    ("input_per_mtok", "Input / 1M"),
    ("cached_input_per_mtok", "Cached input / 1M"),
    ("output_per_mtok", "Output / 1M"),
    ("per_request", "Per request"),
    ("per_image", "Per image"),
    ("per_credit", "Per credit"),
)


def rows(terms: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model: each served model's list and effective price, then any model with an
    explicit price that is not served now (kept, so saving the form never drops it)."""
    explicit = terms.get("models") or {}
    out = [{**row, "explicit": explicit.get(row["model"], {})} for row in terms.get("prices", [])]
    shown = {row["model"] for row in out}
    out += [
        {"model": model, "basis": "explicit", "list": {}, "effective": prices, "explicit": prices, "price_source": ""}
        for model, prices in explicit.items()
        if model not in shown
    ]
    return out


def _number(form: dict[str, Any], name: str, param: str) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise KeyrelayError("invalid_price", "enter a number, e.g. 0.50", param=param) from None


def terms_from_form(form: dict[str, Any]) -> m.PricingTerms:
    """The form's discount and, per model row, the prices filled in (a row left empty: no explicit price)."""
    discount = _number(form, "discount_pct", "discount_pct") or 0.0
    models: dict[str, m.ModelPrice] = {}
    count = int(str(form.get("rows") or "0")) if str(form.get("rows") or "0").isdigit() else 0
    for index in range(count):
        model = str(form.get(f"model_{index}") or "").strip()
        if not model:
            continue
        prices = {field: _number(form, f"{field}_{index}", f"models.{model}.{field}") for field, _ in FIELDS}
        if any(value is not None for value in prices.values()):
            models[model] = m.ModelPrice(**prices)
    return m.PricingTerms(discount_pct=discount, models=models)


async def _page(
    console: Console,
    slug: str,
    *,
    error: FieldError | None = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
    saved: bool = False,
) -> Template:
    item = await console.run(m.GetIntegration(slug=slug))
    terms = await console.run(m.GetPricing(slug=slug))
    return page(
        console,
        "pricing.html",
        section=SECTION,
        i=item,
        terms=terms,
        rows=rows(terms),
        fields=FIELDS,
        errors=errors_by_field(error),
        values=values,
        status=status,
        saved=saved,
    )


@get("/integrations/{slug:str}/pricing")
async def pricing_page(console: Console, slug: str, saved: bool = False) -> Template:
    return await _page(console, slug, saved=saved)


@post("/integrations/{slug:str}/pricing")
async def pricing_save(console: Console, slug: str) -> Response[Any]:
    form = await console.form()
    try:
        await console.run(m.PutPricing(slug=slug, terms=terms_from_form(form)))
    except KeyrelayError as exc:
        if exc.code in {"owner_required", "forbidden"}:
            raise
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
        return await _page(console, slug, error=field_error(exc), status=exc.status, values=values)
    return Redirect(f"/ui/integrations/{slug}/pricing?saved=1")


PRICING_ROUTES = [pricing_page, pricing_save]
