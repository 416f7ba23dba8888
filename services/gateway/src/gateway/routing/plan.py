"""Attempt plans: the ordered steps one request may try, each with its retry and timeout policy.

A plan comes from a route (its targets in order, or a weighted pick first for `loadbalance`) or
from a gateway config tree (`fallback`, `loadbalance` and `conditional` nodes over integration
targets, nested freely). Leaves that are not routable for the calling key are dropped, so a
config can never reach further than the key could directly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.messages.catalog import (
    Condition,
    ConfigNode,
    RetryPolicy,
    Route,
    RouteTarget,
    RoutingSnapshot,
    SnapshotConfig,
    Strategy,
)

DEFAULT_RETRY = RetryPolicy()
DEFAULT_FALLBACK_ON = frozenset(Strategy().on_status_codes)


@dataclass(frozen=True, slots=True)
class Step:
    target: RouteTarget
    retry: RetryPolicy = DEFAULT_RETRY
    fallback_on: frozenset[int] = DEFAULT_FALLBACK_ON
    timeout_s: float | None = None
    first_byte_timeout_s: float | None = None


@dataclass(slots=True)
class Plan:
    requested: str
    steps: list[Step]
    virtual_model: str | None = None
    config: str | None = None
    config_version: int | None = None
    total_timeout_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[RouteTarget]:
        return [step.target for step in self.steps]


def weighted_order(items: list[Any], weights: list[float], rng: random.Random | None = None) -> list[Any]:
    """Weighted pick first, then the others in their listed order (as fallbacks)."""
    if len(items) < 2:
        return list(items)
    chooser = rng or random
    first = chooser.choices(range(len(items)), weights=[max(w, 0.0) for w in weights])[0]
    return [items[first], *items[:first], *items[first + 1 :]]


def steps_for_route(route: Route, rng: random.Random | None = None) -> list[Step]:
    targets = list(route.targets)
    if route.strategy == "loadbalance":
        targets = weighted_order(targets, [t.weight for t in targets], rng)
    return [Step(target=t) for t in targets]


def _lookup(body: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def matches(condition: Condition, body: dict[str, Any]) -> bool:
    found, value = _lookup(body, condition.field)
    op, expected = condition.op, condition.value
    if op == "exists":
        return found == bool(expected if expected is not None else True)
    if not found:
        return op in {"ne", "nin"}
    checks: dict[str, Callable[[], Any]] = {
        "eq": lambda: value == expected,
        "ne": lambda: value != expected,
        "in": lambda: value in expected,
        "nin": lambda: value not in expected,
        "gt": lambda: value > expected,
        "gte": lambda: value >= expected,
        "lt": lambda: value < expected,
        "lte": lambda: value <= expected,
    }
    try:
        return bool(checks[op]())
    except TypeError:
        return False


def bare_model(requested: str) -> str:
    """The model id a config leaf without `model` uses: `@slug/m` and `provider/m` give `m`."""
    if requested.startswith("@") and "/" in requested:
        return requested.split("/", 1)[1]
    head, sep, tail = requested.partition("/")
    return tail if sep and "/" not in head and not head.startswith("@") else requested


@dataclass(slots=True)
class _Builder:
    snapshot: RoutingSnapshot
    body: dict[str, Any]
    model: str
    rng: random.Random | None
    notes: list[str]

    def node(self, node: ConfigNode, inherited: Step | None, depth: int = 0) -> list[Step]:
        if depth > 8:
            return []
        template = Step(
            target=inherited.target if inherited else _PLACEHOLDER,
            retry=node.retry,
            fallback_on=frozenset(node.strategy.on_status_codes),
            timeout_s=node.timeout_ms / 1000 if node.timeout_ms else (inherited.timeout_s if inherited else None),
            first_byte_timeout_s=node.first_byte_timeout_ms / 1000
            if node.first_byte_timeout_ms
            else (inherited.first_byte_timeout_s if inherited else None),
        )
        targets = list(node.targets)
        mode = node.strategy.mode
        if mode == "loadbalance":
            targets = weighted_order(targets, [t.weight for t in targets], self.rng)
        elif mode == "conditional":
            chosen = next((c.then for c in node.strategy.conditions if matches(c, self.body)), node.strategy.default)
            targets = [targets[chosen]] if 0 <= chosen < len(targets) else []
            self.notes.append(f"conditional picked target {chosen}")
        elif mode == "single":
            targets = targets[:1]
        steps: list[Step] = []
        for target in targets:
            if target.node is not None:
                steps.extend(self.node(target.node, template, depth + 1))
                continue
            name = f"@{target.integration}/{target.model or self.model}"
            route = self.snapshot.routes.get(name)
            if route is None or route.kind != "integration":
                self.notes.append(f"{name} is not routable for this key: skipped")
                continue
            steps.append(
                Step(
                    target=route.targets[0],
                    retry=template.retry,
                    fallback_on=template.fallback_on,
                    timeout_s=template.timeout_s,
                    first_byte_timeout_s=template.first_byte_timeout_s,
                )
            )
        return steps


_PLACEHOLDER = RouteTarget(integration_id="", slug="", provider="", adapter="", base_url="", model="")


def plan_from_config(
    config: SnapshotConfig,
    snapshot: RoutingSnapshot,
    body: dict[str, Any],
    requested: str,
    rng: random.Random | None = None,
) -> Plan:
    notes: list[str] = []
    builder = _Builder(snapshot, body, bare_model(requested), rng, notes)
    steps = builder.node(config.node, None)
    total = config.node.total_timeout_ms / 1000 if config.node.total_timeout_ms else None
    return Plan(
        requested=requested,
        steps=steps,
        config=config.name,
        config_version=config.version,
        total_timeout_s=total,
        notes=notes,
    )
