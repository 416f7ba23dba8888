"""The model catalog as data: ids as providers want them, prices, aliases, operator overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.providers import CatalogDataError, load_model_catalog, load_provider_registry
from shared.messages.usage import Usage


def test_every_provider_has_models_and_every_model_says_where_its_price_comes_from() -> None:
    """No provider is empty; `price_source` is always filled."""
    catalog = load_model_catalog()
    for provider in load_provider_registry().ids():
        models = catalog.for_provider(provider)
        assert models, provider
        assert all(m.price_source for m in models), provider


def test_reference_prices_are_carried_into_pricing() -> None:
    """Input, cached input, cache write and output prices land in `Pricing`."""
    model = load_model_catalog().get("anthropic", "claude-opus-4-8")
    assert model is not None
    pricing = model.pricing
    assert (
        pricing.input_per_mtok,
        pricing.cached_input_per_mtok,
        pricing.cache_write_per_mtok,
        pricing.output_per_mtok,
    ) == (5, 0.5, 6.25, 25)
    cost = pricing.cost(Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000).finalize())
    assert cost == pytest.approx(30.0)


def test_anthropic_ids_use_the_api_style_and_dotted_or_dated_names_are_aliases() -> None:
    """`claude-sonnet-4.6` and `claude-haiku-4-5-20251001` resolve to the API ids."""
    catalog = load_model_catalog()
    ids = [m.id for m in catalog.for_provider("anthropic")]
    assert "claude-opus-4-8" in ids
    assert not any("." in model_id for model_id in ids)
    assert catalog.canonical_id("anthropic", "claude-sonnet-4.6") == "claude-sonnet-4-6"
    sonnet = catalog.get("anthropic", "claude-sonnet-4.6")
    assert sonnet is not None
    assert sonnet.id == "claude-sonnet-4-6"
    haiku = catalog.get("anthropic", "claude-haiku-4-5-20251001")
    assert haiku is not None
    assert haiku.id == "claude-haiku-4-5"
    assert catalog.get("anthropic", "claude-opus-9") is None


def test_embedding_and_media_models_are_typed_and_media_is_priced_per_request() -> None:
    """Embeddings have no output price; FAL images and videos cost per request."""
    catalog = load_model_catalog()
    embedding = catalog.get("openai", "text-embedding-3-small")
    assert embedding is not None
    assert embedding.kind == "embedding"
    flux = catalog.get("fal", "fal-ai/flux/dev")
    assert flux is not None
    assert (flux.kind, flux.pricing.per_request) == ("image", 0.025)
    assert flux.pricing.cost(Usage()) == pytest.approx(0.025)
    assert {m.kind for m in catalog.for_provider("pollo")} == {"video"}


def test_models_unknown_to_a_provider_are_not_found() -> None:
    """Lookups are per provider: a model of one provider is not another's."""
    assert load_model_catalog().get("groq", "gpt-5.5") is None
    assert load_model_catalog().for_provider("nope") == []


def test_an_operator_file_adds_and_overrides_models(tmp_path: Path) -> None:
    """`KEYRELAY_MODELS_FILE` entries with a known id replace it; new ids are added."""
    extra = tmp_path / "models.json"
    extra.write_text(
        json.dumps(
            {
                "_comment": "ours",
                "groq": [
                    {"id": "llama-3.3-70b-versatile", "input": 0.5, "output": 0.7, "price_source": "negotiated"},
                    {"id": "our/finetune", "input": 1, "output": 2},
                ],
            }
        )
    )
    catalog = load_model_catalog(extra)
    llama = catalog.get("groq", "llama-3.3-70b-versatile")
    assert llama is not None
    assert (llama.pricing.input_per_mtok, llama.price_source) == (0.5, "negotiated")
    assert catalog.get("groq", "our/finetune") is not None
    assert catalog.get("groq", "llama-3.1-8b-instant") is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"nope": []}, "unknown provider"),
        ({"groq": [{"id": "x", "inptu": 1}]}, "groq"),
        ({"groq": [{"id": "x", "input": -1}]}, "negative"),
        ({"groq": [{"id": "x", "kind": "audio"}]}, "groq"),
        ([], "expected an object"),
    ],
)
def test_a_malformed_operator_file_fails_at_start_up_naming_the_problem(
    tmp_path: Path, content: object, message: str
) -> None:
    """Typos, unknown providers and negative prices are start-up errors, not silent zeros."""
    extra = tmp_path / "models.json"
    extra.write_text(json.dumps(content))
    with pytest.raises(CatalogDataError, match=message):
        load_model_catalog(extra)


def test_an_unreadable_operator_file_fails_at_start_up(tmp_path: Path) -> None:
    """A missing path or broken JSON is reported with the file name."""
    with pytest.raises(CatalogDataError, match=r"missing\.json"):
        load_model_catalog(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(CatalogDataError, match=r"broken\.json"):
        load_model_catalog(broken)
