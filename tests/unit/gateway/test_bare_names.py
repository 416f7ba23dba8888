"""Bare model names in the routing snapshot and in resolution: which integrations, in which order,
for which key; and the token estimate used where no provider counts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from catalog.providers import load_model_catalog
from catalog.snapshot import build_snapshot
from gateway.routing.resolve import resolve, routable
from gateway.token_count import estimate_input_tokens
from shared.errors import KeyrelayError
from shared.messages.catalog import ApiKeyPrincipal, RoutingSnapshot


def integration(slug: str, provider: str, enabled: list[str], custom: list[str] | None = None) -> dict[str, Any]:
    return {
        "_id": f"int-{slug}",
        "slug": slug,
        "provider": provider,
        "base_url": f"https://{provider}.example",
        "enabled_models": enabled,
        "custom_models": [{"slug": s} for s in custom or []],
        "credential_public": {"location": "global"} if provider == "vertex" else {},
    }


def snapshot(*integrations: dict[str, Any], virtual: list[dict[str, Any]] | None = None) -> RoutingSnapshot:
    return build_snapshot("org", "proj", list(integrations), virtual or [], load_model_catalog())


def key(models: list[str] | None = None) -> ApiKeyPrincipal:
    return ApiKeyPrincipal(api_key_id="k", org_id="org", project_id="proj", models=models)


CLAUDE = snapshot(
    integration("direct", "anthropic", ["claude-haiku-4-5"]),
    integration("gcp", "vertex", ["claude-haiku-4-5@20251001"]),
    integration("local", "openai", [], custom=["claude-haiku-4-5", "my/custom"]),
)


def test_a_bare_name_collects_every_provider_enabling_it_in_creation_order() -> None:
    """Anthropic's id, Vertex's alias and a custom slug all answer `claude-haiku-4-5`, once each."""
    route = CLAUDE.routes["claude-haiku-4-5"]
    assert (route.kind, route.strategy) == ("model", "loadbalance")
    assert [(t.slug, t.model) for t in route.targets] == [
        ("direct", "claude-haiku-4-5"),
        ("gcp", "claude-haiku-4-5@20251001"),
        ("local", "claude-haiku-4-5"),
    ]


def test_spellings_with_an_at_sign_or_a_slash_are_never_bare_names() -> None:
    """Vertex's dated id and a custom slug with `/` stay reachable only pinned or by provider."""
    assert "claude-haiku-4-5@20251001" not in CLAUDE.routes
    assert "my/custom" not in CLAUDE.routes
    assert "@local/my/custom" in CLAUDE.routes


def test_the_first_pick_is_load_balanced_and_the_others_follow_in_creation_order() -> None:
    """Every candidate is first sometimes; the fallbacks keep creation order."""
    firsts = set()
    for seed in range(40):
        plan = resolve(CLAUDE, key(), "claude-haiku-4-5", rng=random.Random(seed))
        slugs = [s.target.slug for s in plan.steps]
        firsts.add(slugs[0])
        rest = [s for s in ["direct", "gcp", "local"] if s != slugs[0]]
        assert slugs[1:] == rest
    assert firsts == {"direct", "gcp", "local"}


def test_a_virtual_model_of_the_same_name_replaces_the_bare_name() -> None:
    """Rule 2 before rule 4: the alias decides, whatever integrations enable the name."""
    routes = snapshot(
        integration("direct", "anthropic", ["claude-haiku-4-5"]),
        integration("gpt", "openai", ["gpt-4o-mini"]),
        virtual=[
            {"name": "claude-haiku-4-5", "strategy": "fallback", "targets": [{"model": "@gpt/gpt-4o-mini"}]},
        ],
    ).routes
    assert routes["claude-haiku-4-5"].kind == "virtual"
    assert [t.slug for t in routes["claude-haiku-4-5"].targets] == ["gpt"]


def test_an_allowlisted_key_reaches_through_a_bare_name_only_the_integrations_it_may_call() -> None:
    """Naming `@gcp/...` admits the bare name but only towards gcp; naming the bare name admits all."""
    narrow = key(["@gcp/claude-haiku-4-5@20251001"])
    plan = resolve(CLAUDE, narrow, "claude-haiku-4-5")
    assert [s.target.slug for s in plan.steps] == ["gcp"]
    assert routable(CLAUDE, narrow, "claude-haiku-4-5") is not None
    wide = resolve(CLAUDE, key(["claude-haiku-4-5"]), "claude-haiku-4-5")
    assert len(wide.steps) == 3
    with pytest.raises(KeyrelayError) as refused:
        resolve(CLAUDE, key(["@other/gpt-4o-mini"]), "claude-haiku-4-5")
    assert refused.value.code == "model_not_found"
    assert routable(CLAUDE, key(["@other/gpt-4o-mini"]), "claude-haiku-4-5") is None


def test_the_token_estimate_grows_with_text_and_counts_images_without_their_bytes() -> None:
    """About four characters a token; a base64 image costs a flat amount, not its length."""
    short = estimate_input_tokens({"messages": [{"role": "user", "content": "hi"}]})
    long = estimate_input_tokens({"system": "x" * 4000, "messages": [{"role": "user", "content": "hi"}]})
    assert 1 <= short < 10
    assert 1000 <= long - short <= 1010
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 400_000}}
    with_image = estimate_input_tokens({"messages": [{"role": "user", "content": [image]}]})
    assert 1600 <= with_image < 1700
