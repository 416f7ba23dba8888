"""Model string -> ordered attempt plan, from the project's cached routing snapshot.

Resolution order (contract section 1): `@slug/model`, then a virtual model name, then
`provider/model`. Unknown, disabled, out-of-scope and not-allowed-for-this-key models all answer
404 `model_not_found`, so the answer never reveals what exists elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import KeyrelayError
from shared.messages.catalog import ApiKeyPrincipal, Route, RouteTarget, RoutingSnapshot


@dataclass(frozen=True, slots=True)
class Plan:
    requested: str
    route: Route
    targets: list[RouteTarget]

    @property
    def virtual_model(self) -> str | None:
        return self.route.name if self.route.kind == "virtual" else None


def allowed(principal: ApiKeyPrincipal, name: str, route: Route) -> bool:
    """A key's allowlist admits a model string it names, or one whose every target it names.

    Naming an alias grants its targets (the admin chose the alias); otherwise an alias or a
    `provider/model` route is only reachable if each target is itself allowed, so an alias never
    reaches a model the key could not call directly.
    """
    if principal.models is None:
        return True
    allow = set(principal.models)
    if name in allow:
        return True
    return all(f"@{t.slug}/{t.model}" in allow or f"{t.provider}/{t.model}" in allow for t in route.targets)


def routable_names(snapshot: RoutingSnapshot, principal: ApiKeyPrincipal) -> list[str]:
    return sorted(name for name, route in snapshot.routes.items() if allowed(principal, name, route))


def resolve(snapshot: RoutingSnapshot, principal: ApiKeyPrincipal, model: str, *, pin_slug: str | None = None) -> Plan:
    if not isinstance(model, str) or not model or len(model) > 256:
        raise KeyrelayError("invalid_model", "model must be a non-empty string", param="model")
    route = snapshot.routes.get(model)
    if route is None or not allowed(principal, model, route):
        raise KeyrelayError("model_not_found", f"model {model!r} is not available to this key", param="model")
    targets = order_targets(route)
    if pin_slug is not None:
        targets = [t for t in targets if t.slug == pin_slug]
        if not targets:
            raise KeyrelayError(
                "model_not_found", f"model {model!r} is not available through {pin_slug!r}", param="model"
            )
    return Plan(requested=model, route=route, targets=targets)


def order_targets(route: Route, rng: random.Random | None = None) -> list[RouteTarget]:
    """`fallback`/`single`: as listed. `loadbalance`: weighted pick first, the rest after as fallbacks."""
    targets = list(route.targets)
    if route.strategy != "loadbalance" or len(targets) < 2:
        return targets
    chooser = rng or random
    first = chooser.choices(range(len(targets)), weights=[max(t.weight, 0.0) for t in targets])[0]
    return [targets[first], *targets[:first], *targets[first + 1 :]]


def merge_fallbacks(primary: Plan, extra: Sequence[Plan]) -> Plan:
    """Body `models: [...]`: later plans' targets follow the primary's, without repeats."""
    seen = {(t.integration_id, t.model) for t in primary.targets}
    targets = list(primary.targets)
    for plan in extra:
        for target in plan.targets:
            if (target.integration_id, target.model) not in seen:
                seen.add((target.integration_id, target.model))
                targets.append(target)
    return Plan(requested=primary.requested, route=primary.route, targets=targets)
