"""Slug and model-slug rules: one canonical form, look-alikes refused rather than mapped."""

from __future__ import annotations

import pytest

from catalog.validation import canonical_slug, validate_model_slug
from shared.errors import KeyrelayError


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("anthropic-prod", "anthropic-prod"),
        ("Anthropic-Prod", "anthropic-prod"),
        ("abc", "abc"),
        ("a1-b2-c3", "a1-b2-c3"),
        ("x" * 64, "x" * 64),
        ("openai", "openai"),
        ("groq-2", "groq-2"),
    ],
)
def test_valid_slugs_come_back_in_their_canonical_form(raw: str, slug: str) -> None:
    """ASCII case is folded; everything else is kept as given; provider ids are fine."""
    assert canonical_slug(raw) == slug


@pytest.mark.parametrize(
    "raw",
    [
        "\u0430nthropic-prod",  # Cyrillic a
        "anthr\u03bfpic",  # Greek omicron
        "\uff41\uff4e\uff54\uff48\uff52\uff4f\uff50\uff49\uff43",  # full-width
        "anthropic\u200b-prod",  # zero-width space
        "anthropic\u00ad",  # soft hyphen
        "anthropic\u2011prod",  # non-breaking hyphen
        "café-prod",
        "ﬁrst-team",  # ligature
    ],
)
def test_non_ascii_look_alikes_are_refused_not_mapped(raw: str) -> None:
    """A slug that would need Unicode mapping is refused, so look-alike slugs cannot coexist."""
    with pytest.raises(KeyrelayError) as caught:
        canonical_slug(raw)
    assert (caught.value.code, caught.value.param) == ("invalid_slug", "slug")


@pytest.mark.parametrize(
    "raw", ["ab", "x" * 65, "-abc", "abc-", "a--b", "a_b", "a b", " abc", "abc\n", "@abc", "a.b", "a/b", "", 42, None]
)
def test_malformed_slugs_are_refused(raw: object) -> None:
    """Length, hyphen placement and the character set are enforced."""
    with pytest.raises(KeyrelayError, match="slug"):
        canonical_slug(raw)


@pytest.mark.parametrize(
    "raw",
    ["models", "all", "none", "default", "keyrelay", "internal", "system", "api", "admin", "v10", "V123", "Models"],
)
def test_names_that_would_shadow_routing_are_reserved(raw: str) -> None:
    """Reserved words and version-like names are refused whatever their case."""
    with pytest.raises(KeyrelayError, match="reserved"):
        canonical_slug(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "gpt-4o-mini",
        "accounts/fireworks/models/kimi-k2p6",
        "claude-opus-4-5@20251101",
        "MiniMax-M2.7",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "ft:gpt-4.1:acme:x:1",
        "org/model+v2",
    ],
)
def test_provider_model_ids_are_valid_model_slugs_kept_as_given(raw: str) -> None:
    """Real upstream ids pass unchanged, case included."""
    assert validate_model_slug(raw) == raw


@pytest.mark.parametrize(
    "raw",
    ["", "@slug/model", "/model", "model/", "a//b", "a/../b", "m\u043edel", "a b", "a\tb", "x" * 201, "-model", None],
)
def test_model_slugs_that_clash_with_routing_or_paths_are_refused(raw: object) -> None:
    """Leading `@`, path tricks, whitespace and non-ASCII are refused with `invalid_model`."""
    with pytest.raises(KeyrelayError) as caught:
        validate_model_slug(raw)
    assert caught.value.code == "invalid_model"
