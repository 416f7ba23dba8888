"""Routing: a model string (and optional config) becomes an ordered plan of steps, from the snapshot.

Pins, configs (fallback, loadbalance, conditional, nested), load-balancing weights, virtual models
and the key's allowlist, without a process: the snapshot is built here.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from gateway.routing.plan import (
    DEFAULT_FALLBACK_ON,
    DEFAULT_RETRY,
    Plan,
    Step,
    bare_model,
    matches,
    weighted_order,
)
from gateway.routing.resolve import allowed, merge_fallbacks, resolve, routable_names
from shared.errors import ErrorCode, KeyrelayError
from shared.messages.catalog import (
    ApiKeyPrincipal,
    Condition,
    ConfigNode,
    ConfigTarget,
    RetryPolicy,
    Route,
    RouteTarget,
    RoutingSnapshot,
    SnapshotConfig,
    Strategy,
)


def target(slug: str, model: str = "m", provider: str = "openai", weight: float = 1.0) -> RouteTarget:
    return RouteTarget(
        integration_id=f"int-{slug}",
        slug=slug,
        provider=provider,
        adapter=provider,
        base_url="http://127.0.0.1:9",
        model=model,
        weight=weight,
    )


def integration_route(slug: str, model: str = "m") -> tuple[str, Route]:
    name = f"@{slug}/{model}"
    return name, Route(name=name, kind="integration", targets=[target(slug, model)])


def snapshot(*routes: tuple[str, Route], configs: dict[str, SnapshotConfig] | None = None) -> RoutingSnapshot:
    return RoutingSnapshot(org_id="org", project_id="prj", version="v1", routes=dict(routes), configs=configs or {})


def key(models: list[str] | None = None) -> ApiKeyPrincipal:
    return ApiKeyPrincipal(api_key_id="key", org_id="org", project_id="prj", models=models)


def config(node: ConfigNode, name: str = "cfg", version: int = 3) -> dict[str, SnapshotConfig]:
    return {name: SnapshotConfig(name=name, version=version, node=node)}


def leaf(integration: str, model: str | None = None, weight: float = 1.0) -> ConfigTarget:
    return ConfigTarget(integration=integration, model=model, weight=weight)


def slugs(plan: Plan) -> list[str]:
    return [step.target.slug for step in plan.steps]


def code_of(excinfo: pytest.ExceptionInfo[KeyrelayError]) -> tuple[ErrorCode, str | None]:
    return excinfo.value.code, excinfo.value.param


SNAP = snapshot(
    integration_route("a"),
    integration_route("b"),
    integration_route("c"),
    (
        "openai/m",
        Route(name="openai/m", kind="provider", strategy="fallback", targets=[target("a"), target("b")]),
    ),
    (
        "smart",
        Route(name="smart", kind="virtual", strategy="fallback", targets=[target("b"), target("c", "m2")]),
    ),
)


# --- model strings ----------------------------------------------------------------------------------
def test_an_integration_model_string_plans_its_one_target_with_the_default_policy() -> None:
    plan = resolve(SNAP, key(), "@a/m")
    assert plan.requested == "@a/m"
    assert [(s.target.slug, s.target.model) for s in plan.steps] == [("a", "m")]
    assert plan.steps[0].retry == DEFAULT_RETRY
    assert plan.steps[0].fallback_on == DEFAULT_FALLBACK_ON
    assert plan.virtual_model is None


def test_a_provider_model_string_plans_every_integration_that_serves_it_in_order() -> None:
    assert slugs(resolve(SNAP, key(), "openai/m")) == ["a", "b"]


def test_a_virtual_model_plans_its_targets_and_names_itself_in_the_plan() -> None:
    plan = resolve(SNAP, key(), "smart")
    assert [(s.target.slug, s.target.model) for s in plan.steps] == [("b", "m"), ("c", "m2")]
    assert plan.virtual_model == "smart"


def test_an_unknown_model_is_model_not_found() -> None:
    with pytest.raises(KeyrelayError) as caught:
        resolve(SNAP, key(), "@nowhere/m")
    assert code_of(caught) == (ErrorCode.MODEL_NOT_FOUND, "model")
    assert caught.value.status == 404


@pytest.mark.parametrize("model", [None, "", 42, ["@a/m"], "x" * 257])
def test_a_model_that_is_not_a_short_non_empty_string_is_invalid_model(model: Any) -> None:
    with pytest.raises(KeyrelayError) as caught:
        resolve(SNAP, key(), model)
    assert code_of(caught) == (ErrorCode.INVALID_MODEL, "model")


def test_a_very_long_unknown_model_name_is_cut_in_the_error_message() -> None:
    with pytest.raises(KeyrelayError) as caught:
        resolve(SNAP, key(), "@" + "y" * 250)
    assert len(caught.value.message) < 150


# --- the key's allowlist (its scope) -----------------------------------------------------------------
def test_a_model_outside_the_keys_allowlist_answers_exactly_like_an_unknown_one() -> None:
    with pytest.raises(KeyrelayError) as hidden:
        resolve(SNAP, key(["@a/m"]), "@b/m")
    with pytest.raises(KeyrelayError) as unknown:
        resolve(SNAP, key(["@a/m"]), "@zzz/m")
    assert hidden.value.body().error.code == unknown.value.body().error.code == "model_not_found"
    assert hidden.value.status == unknown.value.status == 404


def test_naming_a_virtual_model_in_the_allowlist_grants_its_targets() -> None:
    assert slugs(resolve(SNAP, key(["smart"]), "smart")) == ["b", "c"]


def test_a_provider_route_is_reachable_only_if_the_allowlist_names_every_target() -> None:
    assert allowed(key(["@a/m", "@b/m"]), "openai/m", SNAP.routes["openai/m"])
    assert not allowed(key(["@a/m"]), "openai/m", SNAP.routes["openai/m"])


def test_routable_names_lists_only_what_the_key_may_call_sorted() -> None:
    assert routable_names(SNAP, key()) == sorted(SNAP.routes)
    assert routable_names(SNAP, key(["@a/m", "@c/m"])) == ["@a/m", "@c/m"]


# --- pins -------------------------------------------------------------------------------------------
def test_a_pinned_integration_keeps_only_its_own_steps() -> None:
    assert slugs(resolve(SNAP, key(), "openai/m", pin_slug="b")) == ["b"]


def test_a_pin_to_an_integration_the_plan_does_not_reach_is_model_not_found() -> None:
    with pytest.raises(KeyrelayError) as caught:
        resolve(SNAP, key(), "openai/m", pin_slug="c")
    assert caught.value.code is ErrorCode.MODEL_NOT_FOUND


# --- load balancing ---------------------------------------------------------------------------------
def test_load_balancing_picks_the_first_target_by_weight_and_keeps_the_rest_as_fallbacks_in_order() -> None:
    rng = random.Random(7)
    firsts = Counter(weighted_order(["a", "b", "c"], [1.0, 3.0, 0.0], rng)[0] for _ in range(4000))
    assert firsts["c"] == 0
    assert 0.70 < firsts["b"] / 4000 < 0.80
    for _ in range(20):
        order = weighted_order(["a", "b", "c"], [1.0, 3.0, 0.0], rng)
        assert order in (["a", "b", "c"], ["b", "a", "c"])


def test_a_negative_weight_counts_as_zero() -> None:
    rng = random.Random(1)
    assert {weighted_order(["a", "b"], [-5.0, 1.0], rng)[0] for _ in range(200)} == {"b"}


def test_a_loadbalanced_route_uses_its_targets_weights() -> None:
    route = Route(
        name="lb", kind="virtual", strategy="loadbalance", targets=[target("a", weight=0), target("b", weight=1)]
    )
    snap = snapshot(("lb", route))
    for seed in range(10):
        assert slugs(resolve(snap, key(), "lb", rng=random.Random(seed))) == ["b", "a"]


def test_a_fallback_route_ignores_weights() -> None:
    route = Route(
        name="fb", kind="virtual", strategy="fallback", targets=[target("a", weight=0), target("b", weight=9)]
    )
    assert slugs(resolve(snapshot(("fb", route)), key(), "fb", rng=random.Random(0))) == ["a", "b"]


# --- gateway configs --------------------------------------------------------------------------------
def test_a_config_replaces_the_routes_order_and_hands_its_policy_to_every_step() -> None:
    retry = RetryPolicy(attempts=3, on_status_codes=[503])
    node = ConfigNode(
        strategy=Strategy(mode="fallback", on_status_codes=[429, 503]),
        retry=retry,
        timeout_ms=1500,
        first_byte_timeout_ms=700,
        total_timeout_ms=9000,
        targets=[leaf("c"), leaf("a")],
    )
    plan = resolve(snapshot(*SNAP.routes.items(), configs=config(node)), key(), "@a/m", config_name="cfg")
    assert slugs(plan) == ["c", "a"]
    assert (plan.config, plan.config_version, plan.total_timeout_s) == ("cfg", 3, 9.0)
    for step in plan.steps:
        assert step.retry == retry
        assert step.fallback_on == frozenset({429, 503})
        assert (step.timeout_s, step.first_byte_timeout_s) == (1.5, 0.7)


def test_a_config_leaf_without_a_model_uses_the_requested_models_bare_name() -> None:
    node = ConfigNode(targets=[leaf("b")])
    plan = resolve(snapshot(*SNAP.routes.items(), configs=config(node)), key(), "openai/m", config_name="cfg")
    assert [(s.target.slug, s.target.model) for s in plan.steps] == [("b", "m")]


@pytest.mark.parametrize(
    ("requested", "bare"),
    [("@a/gpt-4o", "gpt-4o"), ("openai/gpt-4o", "gpt-4o"), ("smart", "smart"), ("together/org/llama", "org/llama")],
)
def test_the_bare_model_name_drops_an_integration_or_provider_prefix(requested: str, bare: str) -> None:
    assert bare_model(requested) == bare


def test_an_unknown_config_is_not_found_naming_the_header() -> None:
    with pytest.raises(KeyrelayError) as caught:
        resolve(SNAP, key(), "@a/m", config_name="nope")
    assert code_of(caught) == (ErrorCode.NOT_FOUND, "x-keyrelay-config")


def test_config_leaves_the_key_cannot_route_are_dropped_with_a_note() -> None:
    node = ConfigNode(targets=[leaf("ghost"), leaf("a")])
    plan = resolve(snapshot(*SNAP.routes.items(), configs=config(node)), key(), "@a/m", config_name="cfg")
    assert slugs(plan) == ["a"]
    assert any("@ghost/m is not routable" in note for note in plan.notes)


def test_a_config_never_reaches_further_than_the_keys_allowlist() -> None:
    node = ConfigNode(targets=[leaf("a"), leaf("b")])
    snap = snapshot(*SNAP.routes.items(), configs=config(node))
    assert slugs(resolve(snap, key(["@b/m"]), "openai/m", config_name="cfg")) == ["b"]


def test_a_config_picked_by_header_never_reaches_a_target_the_key_may_not_call_even_for_an_allowed_model() -> None:
    node = ConfigNode(targets=[leaf("a"), leaf("b")])
    snap = snapshot(*SNAP.routes.items(), configs=config(node))
    assert slugs(resolve(snap, key(["@b/m"]), "@b/m", config_name="cfg")) == ["b"]


def test_a_config_attached_by_the_admin_to_an_allowed_virtual_model_keeps_all_its_targets() -> None:
    vm = Route(name="vm", kind="virtual", strategy="fallback", targets=[target("a")], config="cfg")
    node = ConfigNode(targets=[leaf("a", "m"), leaf("b", "m")])
    snap = snapshot(*SNAP.routes.items(), ("vm", vm), configs=config(node))
    assert slugs(resolve(snap, key(["vm"]), "vm")) == ["a", "b"]


def test_a_config_whose_every_leaf_is_dropped_is_model_not_found() -> None:
    node = ConfigNode(targets=[leaf("ghost")])
    with pytest.raises(KeyrelayError) as caught:
        resolve(snapshot(*SNAP.routes.items(), configs=config(node)), key(), "@a/m", config_name="cfg")
    assert caught.value.code is ErrorCode.MODEL_NOT_FOUND


def test_a_virtual_model_with_an_attached_config_plans_by_the_config() -> None:
    vm = Route(name="vm", kind="virtual", strategy="fallback", targets=[target("a")], config="cfg")
    node = ConfigNode(targets=[leaf("c", "m"), leaf("b", "m")])
    plan = resolve(snapshot(*SNAP.routes.items(), ("vm", vm), configs=config(node)), key(), "vm")
    assert slugs(plan) == ["c", "b"]
    assert (plan.virtual_model, plan.config) == ("vm", "cfg")


def test_a_config_header_wins_over_the_config_a_virtual_model_carries() -> None:
    vm = Route(name="vm", kind="virtual", targets=[target("a")], config="cfg")
    configs = {**config(ConfigNode(targets=[leaf("c", "m")])), **config(ConfigNode(targets=[leaf("b", "m")]), "other")}
    plan = resolve(snapshot(*SNAP.routes.items(), ("vm", vm), configs=configs), key(), "vm", config_name="other")
    assert slugs(plan) == ["b"]


def test_a_single_mode_config_tries_only_its_first_target() -> None:
    node = ConfigNode(strategy=Strategy(mode="single"), targets=[leaf("a"), leaf("b")])
    assert slugs(resolve(snapshot(*SNAP.routes.items(), configs=config(node)), key(), "@a/m", config_name="cfg")) == [
        "a"
    ]


def test_a_loadbalance_config_orders_its_targets_by_weight() -> None:
    node = ConfigNode(strategy=Strategy(mode="loadbalance"), targets=[leaf("a", weight=0), leaf("b", weight=1)])
    snap = snapshot(*SNAP.routes.items(), configs=config(node))
    for seed in range(10):
        assert slugs(resolve(snap, key(), "@a/m", config_name="cfg", rng=random.Random(seed))) == ["b", "a"]


def test_a_conditional_config_picks_the_target_of_the_first_matching_condition_or_its_default() -> None:
    strategy = Strategy(
        mode="conditional",
        conditions=[
            Condition(field="metadata.tier", op="eq", value="gold", then=1),
            Condition(field="max_tokens", op="gt", value=1000, then=2),
        ],
        default=0,
    )
    snap = snapshot(
        *SNAP.routes.items(), configs=config(ConfigNode(strategy=strategy, targets=[leaf(s) for s in "abc"]))
    )

    def pick(body: dict[str, Any]) -> list[str]:
        return slugs(resolve(snap, key(), "@a/m", body=body, config_name="cfg"))

    assert pick({"metadata": {"tier": "gold"}, "max_tokens": 5000}) == ["b"]
    assert pick({"max_tokens": 5000}) == ["c"]
    assert pick({"max_tokens": "lots"}) == ["a"]  # a comparison across types never matches
    assert pick({}) == ["a"]


def test_nested_config_nodes_inherit_timeouts_they_leave_unset_and_keep_their_own_policy() -> None:
    inner = ConfigNode(strategy=Strategy(on_status_codes=[500]), timeout_ms=None, targets=[leaf("b"), leaf("c")])
    outer = ConfigNode(timeout_ms=2000, first_byte_timeout_ms=500, targets=[leaf("a"), ConfigTarget(node=inner)])
    plan = resolve(snapshot(*SNAP.routes.items(), configs=config(outer)), key(), "@a/m", config_name="cfg")
    assert slugs(plan) == ["a", "b", "c"]
    assert [(s.timeout_s, s.first_byte_timeout_s) for s in plan.steps] == [(2.0, 0.5)] * 3
    assert [s.fallback_on for s in plan.steps] == [DEFAULT_FALLBACK_ON, frozenset({500}), frozenset({500})]


def test_config_nesting_deeper_than_eight_levels_is_cut_off() -> None:
    node = ConfigNode(targets=[leaf("a")])
    for _ in range(10):
        node = ConfigNode(targets=[ConfigTarget(node=node)])
    with pytest.raises(KeyrelayError) as caught:
        resolve(snapshot(*SNAP.routes.items(), configs=config(node)), key(), "@a/m", config_name="cfg")
    assert caught.value.code is ErrorCode.MODEL_NOT_FOUND


# --- conditions -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "value", "body", "expected"),
    [
        ("eq", "x", {"f": "x"}, True),
        ("ne", "x", {"f": "y"}, True),
        ("ne", "x", {}, True),  # a missing field is "not equal"
        ("nin", ["x"], {}, True),
        ("eq", "x", {}, False),
        ("in", ["x", "y"], {"f": "y"}, True),
        ("nin", ["x", "y"], {"f": "z"}, True),
        ("gt", 3, {"f": 4}, True),
        ("gte", 3, {"f": 3}, True),
        ("lt", 3, {"f": 3}, False),
        ("lte", 3, {"f": 3}, True),
        ("exists", True, {"f": None}, True),
        ("exists", False, {}, True),
        ("exists", None, {}, False),
        ("gt", 3, {"f": "many"}, False),
    ],
)
def test_a_condition_compares_a_request_field_with_its_operator(
    op: str, value: Any, body: dict[str, Any], expected: bool
) -> None:
    assert matches(Condition(field="f", op=op, value=value), body) is expected  # type: ignore[arg-type]


def test_a_condition_reads_a_dotted_path_into_the_request() -> None:
    condition = Condition(field="metadata.user.tier", value="gold")
    assert matches(condition, {"metadata": {"user": {"tier": "gold"}}})
    assert not matches(condition, {"metadata": {"user": "gold"}})


# --- body `models: [...]` ---------------------------------------------------------------------------
def test_extra_models_follow_the_primary_plan_without_repeating_a_target() -> None:
    primary = resolve(SNAP, key(), "@a/m")
    merged = merge_fallbacks(primary, [resolve(SNAP, key(), "openai/m"), resolve(SNAP, key(), "smart")])
    assert [(s.target.slug, s.target.model) for s in merged.steps] == [("a", "m"), ("b", "m"), ("c", "m2")]


def test_a_plans_targets_are_its_steps_targets() -> None:
    plan = Plan(requested="x", steps=[Step(target=target("a")), Step(target=target("b"))])
    assert [t.slug for t in plan.targets] == ["a", "b"]
