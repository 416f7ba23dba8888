"""`keyrelay catalog check`: validate the model catalog (built in, plus `KEYRELAY_MODELS_FILE`) and
list the models without a price.

A problem makes the check fail: data that does not load (unknown provider or field, a negative
price, a malformed date), a price without its source or the date it was taken, a date in the
future, an alias that names another model of the same provider. A model without a price is not a
problem but is listed: owners price it themselves (an explicit price in the integration's pricing,
e.g. a price per credit), or its requests cost nothing in the activity log and budgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from catalog.providers import CatalogDataError, CatalogModel, ModelCatalog, load_model_catalog


@dataclass(slots=True)
class CatalogReport:
    models: int = 0
    providers: int = 0
    problems: list[str] = field(default_factory=list)
    unpriced: list[tuple[str, CatalogModel]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"problem: {problem}" for problem in self.problems]
        if self.models:
            out.append(f"{self.models} models of {self.providers} providers checked")
        if self.unpriced:
            out.append(f"{len(self.unpriced)} models without a price (set one in the integration's pricing):")
            out += [
                f"  {provider}: {model.id} ({model.kind}; {model.price_source})" for provider, model in self.unpriced
            ]
        out.append("catalog check: " + ("ok" if self.ok else f"{len(self.problems)} problem(s)"))
        return out


def has_price(model: CatalogModel) -> bool:
    p = model.pricing
    return any((p.input_per_mtok, p.output_per_mtok, p.per_request, p.per_image, p.per_credit))


def _problems(provider: str, model: CatalogModel, catalog: ModelCatalog, today: date) -> list[str]:
    name = f"{provider}/{model.id}"
    found = []
    if not model.price_source.strip():
        found.append(f"{name}: no price_source")
    if not model.price_date:
        found.append(f"{name}: no price_date")
    elif date.fromisoformat(model.price_date) > today:
        found.append(f"{name}: price_date {model.price_date} is in the future")
    for alias in model.aliases:
        if catalog.canonical_id(provider, alias) != model.id:
            found.append(f"{name}: alias {alias!r} names another model")
    return found


def check_catalog(extra_file: str | Path | None = None, today: date | None = None) -> CatalogReport:
    report = CatalogReport()
    try:
        catalog = load_model_catalog(extra_file)
    except CatalogDataError as exc:
        report.problems.append(str(exc))
        return report
    today = today or datetime.now(UTC).date()
    for provider in catalog.providers():
        models = catalog.for_provider(provider)
        report.providers += bool(models)
        for model in models:
            report.models += 1
            report.problems += _problems(provider, model, catalog, today)
            if not has_price(model):
                report.unpriced.append((provider, model))
    return report
