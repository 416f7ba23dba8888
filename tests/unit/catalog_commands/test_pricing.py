"""An integration's economics, from the stored terms to the routing snapshot's prices and the
record's cost: per-credit prices, explicit entries by canonical id, discounts on every price."""

from __future__ import annotations

import pytest

from catalog.settings import CatalogSettings
from catalog.snapshot import build_snapshot
from gateway.recorder import RequestRecord
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.usage import Pricing, Usage
from tests.unit.catalog_commands.conftest import UPSTREAM, World


async def _target(world: World, slug: str, model: str) -> m.RouteTarget:
    doc = await world.store.integrations.get(world.owner.org_id, slug=slug)
    assert doc is not None
    snapshot = build_snapshot(world.owner.org_id, world.project_id, [doc], [], world.ctx.models)
    return snapshot.routes[f"@{slug}/{model}"].targets[0]


async def test_a_credit_billed_model_costs_its_credits_at_the_integrations_price_per_credit(world: World) -> None:
    """Pollo lists no price (it bills in credits): 30 credits at 0.01 USD each cost 0.30 USD."""
    world.ctx.settings = CatalogSettings(provider_base_urls={"pollo": UPSTREAM})
    await world.integration("pollo", provider="pollo", models=m.ModelSelection(enabled=["pollo/pollo-v2-0"]))
    terms = m.PricingTerms(models={"pollo/pollo-v2-0": m.ModelPrice(per_credit=0.01)})
    body = await world.ok(world.owner, m.PutPricing(slug="pollo", terms=terms))
    assert body["prices"][0]["effective"] == {"per_credit": 0.01}
    record = RequestRecord(request_id="r1", endpoint="videos")
    record.served = await _target(world, "pollo", "pollo/pollo-v2-0")
    record.set_usage(Usage(credits=30))
    finished = record.finish(status=200)
    assert finished.cost_usd == pytest.approx(0.30)
    assert finished.list_cost_usd == 0


async def test_a_discount_takes_its_share_off_every_price_and_the_list_price_travels_beside_it(world: World) -> None:
    await world.integration("main", models=m.ModelSelection(enabled=["gpt-4.1"]))
    await world.ok(world.owner, m.PutPricing(slug="main", terms=m.PricingTerms(discount_pct=25)))
    target = await _target(world, "main", "gpt-4.1")
    assert target.list_pricing == Pricing(input_per_mtok=2, cached_input_per_mtok=0.5, output_per_mtok=8)
    assert target.pricing == Pricing(input_per_mtok=1.5, cached_input_per_mtok=0.375, output_per_mtok=6)
    record = RequestRecord(request_id="r2", endpoint="chat.completions", served=target)
    record.set_usage(Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000))
    assert (record.cost_usd, record.list_cost_usd) == (7.5, 10.0)


async def test_with_no_terms_the_effective_price_is_the_list_price(world: World) -> None:
    await world.integration("main", models=m.ModelSelection(enabled=["gpt-4.1"]))
    target = await _target(world, "main", "gpt-4.1")
    assert target.list_pricing is None
    record = RequestRecord(request_id="r3", endpoint="chat.completions", served=target)
    record.set_usage(Usage(prompt_tokens=1_000_000))
    assert record.cost_usd == record.list_cost_usd == 2.0


async def test_a_cost_the_provider_reports_gets_the_discount_and_an_explicit_price_wins_over_it(
    world: World,
) -> None:
    """Perplexity's own `usage.cost` is the list cost; the org pays it less its discount, and a
    model with an explicit price is charged that price instead."""
    world.ctx.settings = CatalogSettings(provider_base_urls={"perplexity": UPSTREAM})
    enabled = m.ModelSelection(enabled=["sonar", "sonar-pro"])
    await world.integration("pplx", provider="perplexity", models=enabled)
    terms = m.PricingTerms(discount_pct=20, models={"sonar-pro": m.ModelPrice(input_per_mtok=1, output_per_mtok=2)})
    await world.ok(world.owner, m.PutPricing(slug="pplx", terms=terms))
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, cost_usd=0.5)
    discounted = RequestRecord(
        request_id="r5", endpoint="chat.completions", served=await _target(world, "pplx", "sonar")
    )
    discounted.set_usage(usage)
    assert discounted.cost_usd == pytest.approx(0.4)
    assert discounted.list_cost_usd == 0.5
    explicit = RequestRecord(
        request_id="r6", endpoint="chat.completions", served=await _target(world, "pplx", "sonar-pro")
    )
    explicit.set_usage(Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, cost_usd=0.5))
    assert explicit.cost_usd == pytest.approx(3.0)
    assert explicit.list_cost_usd == 0.5
    unpriced = RequestRecord(request_id="r7", endpoint="chat.completions")
    unpriced.set_usage(Usage(cost_usd=0.25))
    assert unpriced.cost_usd == unpriced.list_cost_usd == 0.25


async def test_an_explicit_price_named_by_an_alias_is_stored_under_the_models_id(world: World) -> None:
    await world.integration("claude", provider="anthropic", models=m.ModelSelection(enabled=["claude-haiku-4-5"]))
    catalog_model = world.ctx.models.get("anthropic", "claude-haiku-4-5")
    assert catalog_model is not None
    alias = catalog_model.aliases[0]
    terms = m.PricingTerms(models={alias: m.ModelPrice(input_per_mtok=0.5, output_per_mtok=2)})
    body = await world.ok(world.owner, m.PutPricing(slug="claude", terms=terms))
    assert list(body["models"]) == ["claude-haiku-4-5"]
    target = await _target(world, "claude", alias)
    assert target.pricing == Pricing(input_per_mtok=0.5, output_per_mtok=2)


async def test_a_custom_models_own_price_is_its_list_price_and_gets_the_discount(world: World) -> None:
    await world.integration("main")
    model = m.CustomModel(slug="my-tune", pricing=Pricing(input_per_mtok=4.0, output_per_mtok=8.0))
    await world.created(world.owner, m.AddCustomModel(slug="main", model=model))
    await world.ok(world.owner, m.PutPricing(slug="main", terms=m.PricingTerms(discount_pct=50)))
    target = await _target(world, "main", "my-tune")
    assert target.pricing == Pricing(input_per_mtok=2.0, output_per_mtok=4.0)


async def test_images_are_charged_per_image_at_the_effective_price(world: World) -> None:
    await world.integration("img", models=m.ModelSelection(enabled=["gpt-4.1"]))
    terms = m.PricingTerms(models={"gpt-4.1": m.ModelPrice(per_image=0.04)})
    await world.ok(world.owner, m.PutPricing(slug="img", terms=terms))
    record = RequestRecord(
        request_id="r4", endpoint="images.generations", served=await _target(world, "img", "gpt-4.1")
    )
    record.charge_images(3)
    assert record.cost_usd == pytest.approx(0.12)


@pytest.mark.parametrize(
    ("terms", "code", "param"),
    [
        (m.PricingTerms(discount_pct=-0.5), "invalid_discount", "discount_pct"),
        (m.PricingTerms(discount_pct=float("nan")), "invalid_discount", "discount_pct"),
        (
            m.PricingTerms(models={"gpt-4.1": m.ModelPrice(output_per_mtok=-1)}),
            "invalid_price",
            "models.gpt-4.1.output_per_mtok",
        ),
        (
            m.PricingTerms(models={"gpt-4.1": m.ModelPrice(per_request=float("inf"))}),
            "invalid_price",
            "models.gpt-4.1.per_request",
        ),
        (
            m.PricingTerms(models={"claude-opus-4-8": m.ModelPrice(input_per_mtok=1)}),
            "invalid_model",
            "models.claude-opus-4-8",
        ),
    ],
)
async def test_bad_terms_are_refused_by_name_and_nothing_is_stored(
    world: World, terms: m.PricingTerms, code: str, param: str
) -> None:
    await world.integration("main", models=m.ModelSelection(enabled=["gpt-4.1"]))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.PutPricing(slug="main", terms=terms))
    assert (caught.value.code, caught.value.param) == (code, param)
    assert (await world.ok(world.owner, m.GetPricing(slug="main")))["discount_pct"] == 0
