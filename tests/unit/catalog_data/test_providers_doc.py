"""`docs/providers.md` is the catalog data rendered: it never drifts, and what it claims is tested is."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.providers import load_model_catalog, load_provider_registry
from catalog.providers_doc import MEDIA_TESTED, render
from gateway.providers.registry import build_adapters
from gateway.providers.unsupported import NoEmbeddings, NoImages
from tests.e2e.test_provider_matrix import CASES

PAGE = Path(__file__).resolve().parents[3] / "docs" / "providers.md"


def test_the_providers_page_is_exactly_what_the_catalog_data_renders() -> None:
    """Regenerate with `just providers-doc` after changing providers.json or models.json."""
    assert PAGE.read_text(encoding="utf-8") == render()


def test_every_chat_provider_and_custom_host_format_is_in_the_e2e_matrix_the_page_cites() -> None:
    registry = load_provider_registry()
    chat = {spec.id for spec in registry.all() if "chat" in spec.capabilities}
    assert chat == {case.provider for case in CASES.values() if case.api_format is None}
    assert set(registry.custom_host_formats) == {case.api_format for case in CASES.values() if case.api_format}
    assert {spec.id for spec in registry.all()} - chat == set(MEDIA_TESTED)


@pytest.mark.parametrize("provider", [spec.id for spec in load_provider_registry().all()])
def test_every_catalog_model_is_of_a_kind_its_providers_adapter_serves(provider: str) -> None:
    """No embedding model where the adapter has no embeddings, no image model where it has no images."""
    adapter = build_adapters(None, {})[provider]  # type: ignore[arg-type]  # no calls are made
    kinds = {model.kind for model in load_model_catalog().for_provider(provider)}
    if isinstance(adapter, NoEmbeddings):
        assert "embedding" not in kinds
    if isinstance(adapter, NoImages):
        assert "image" not in kinds
