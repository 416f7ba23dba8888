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
    ConfigTarget,
    RetryPolicy,
    Route,
    RouteTarget,
    RoutingSnapshot,
    SnapshotConfig,
    Strategy,
)

DEFAULT_RETRY = RetryPolicy()
# statuses a step falls back on unless its config says otherwise; the error's code must allow a
# fallback too (`ErrorCode.fallback`: never for an error the request itself caused)
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


@dataclass(frozen=True, slots=True)
class _Policy:
    """What a config node hands down to its targets (nested nodes inherit unset timeouts)."""

    retry: RetryPolicy
    fallback_on: frozenset[int]
    timeout_s: float | None
    first_byte_timeout_s: float | None

    @classmethod
    def of(cls, node: ConfigNode, parent: _Policy | None) -> _Policy:
        return cls(
            retry=node.retry,
            fallback_on=frozenset(node.strategy.on_status_codes),
            timeout_s=node.timeout_ms / 1000 if node.timeout_ms else (parent.timeout_s if parent else None),
            first_byte_timeout_s=node.first_byte_timeout_ms / 1000
            if node.first_byte_timeout_ms
            else (parent.first_byte_timeout_s if parent else None),
        )

    def step(self, target: RouteTarget) -> Step:
        return Step(
            target=target,
            retry=self.retry,
            fallback_on=self.fallback_on,
            timeout_s=self.timeout_s,
            first_byte_timeout_s=self.first_byte_timeout_s,
        )


@dataclass(slots=True)
class _Builder:
    snapshot: RoutingSnapshot
    body: dict[str, Any]
    model: str
    rng: random.Random | None
    notes: list[str]

    def node(self, node: ConfigNode, parent: _Policy | None, depth: int = 0) -> list[Step]:
        if depth > 8:
            return []
        policy = _Policy.of(node, parent)
        steps: list[Step] = []
        for target in self._chosen(node):
            if target.node is not None:
                steps.extend(self.node(target.node, policy, depth + 1))
                continue
            name = f"@{target.integration}/{target.model or self.model}"
            route = self.snapshot.routes.get(name)
            if route is None or route.kind != "integration":
                self.notes.append(f"{name} is not routable for this key: skipped")
                continue
            steps.append(policy.step(route.targets[0]))
        return steps

    def _chosen(self, node: ConfigNode) -> list[ConfigTarget]:
        """The node's targets in the order its strategy tries them."""
        targets = list(node.targets)
        mode = node.strategy.mode
        if mode == "loadbalance":
            return weighted_order(targets, [t.weight for t in targets], self.rng)
        if mode == "conditional":
            chosen = next((c.then for c in node.strategy.conditions if matches(c, self.body)), node.strategy.default)
            self.notes.append(f"conditional picked target {chosen}")
            return [targets[chosen]] if 0 <= chosen < len(targets) else []
        if mode == "single":
            return targets[:1]
        return targets


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
