"""Model string (and optional config header) -> attempt plan, from the cached routing snapshot.

Resolution order (contract section 1): `@slug/model`, then a virtual model name, then
`provider/model`, then a bare model name (`claude-sonnet-4-5`: every integration in scope enabling
a catalog or custom model of that name, whatever its provider). Unknown, disabled, out-of-scope
and not-allowed-for-this-key models all answer 404 `model_not_found`, so the answer never reveals
what exists elsewhere. A gateway config (header `x-keyrelay-config`, or attached to a virtual
model) replaces the route's own order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.routing.plan import Plan, Step, plan_from_config, steps_for_route
from shared.errors import ErrorCode, KeyrelayError, echo
from shared.messages.catalog import ApiKeyPrincipal, Route, RouteTarget, RoutingSnapshot


def _target_allowed(allow: set[str], target: RouteTarget) -> bool:
    return f"@{target.slug}/{target.model}" in allow or f"{target.provider}/{target.model}" in allow


def allowed(principal: ApiKeyPrincipal, name: str, route: Route) -> bool:
    """A key's allowlist admits a model string it names, or one whose every target it names.

    Naming an alias grants its targets (the admin chose the alias); otherwise an alias or a
    `provider/model` route is only reachable if each target is itself allowed, so an alias never
    reaches a model the key could not call directly.
    """
    if principal.models is None:
        return True
    allow = set(principal.models)
    if route.kind == "model":
        return name in allow or any(_target_allowed(allow, t) for t in route.targets)
    return name in allow or all(_target_allowed(allow, t) for t in route.targets)


def _allowed_targets(principal: ApiKeyPrincipal, name: str, route: Route) -> Route:
    """A bare name reaches, for a key with an allowlist that does not name it, only the
    integrations the key may call directly (`@slug/model` or `provider/model` listed)."""
    if principal.models is None or route.kind != "model" or name in principal.models:
        return route
    allow = set(principal.models)
    targets = [t for t in route.targets if _target_allowed(allow, t)]
    return msgspec.structs.replace(route, targets=targets, strategy="single" if len(targets) == 1 else route.strategy)


def routable_names(snapshot: RoutingSnapshot, principal: ApiKeyPrincipal) -> list[str]:
    return sorted(name for name, route in snapshot.routes.items() if allowed(principal, name, route))


def routable(snapshot: RoutingSnapshot, principal: ApiKeyPrincipal, name: str) -> Route | None:
    """The route one model string names, if this key may use it (else None, like an unknown name)."""
    route = snapshot.routes.get(name)
    return route if route is not None and allowed(principal, name, route) else None


def _not_found(model: str) -> KeyrelayError:
    return KeyrelayError(ErrorCode.MODEL_NOT_FOUND, f"model {echo(model)} is not available to this key", param="model")


def resolve(
    snapshot: RoutingSnapshot,
    principal: ApiKeyPrincipal,
    model: Any,
    *,
    body: dict[str, Any] | None = None,
    pin_slug: str | None = None,
    config_name: str | None = None,
    rng: random.Random | None = None,
) -> Plan:
    if not isinstance(model, str) or not model or len(model) > 256:
        raise KeyrelayError(ErrorCode.INVALID_MODEL, "model must be a non-empty string", param="model")
    route = snapshot.routes.get(model)
    caller_chose_config = config_name is not None
    if config_name is None and route is not None and route.kind == "virtual" and route.config:
        config_name = route.config
    if config_name is not None:
        config = snapshot.configs.get(config_name)
        if config is None:
            raise KeyrelayError(
                ErrorCode.NOT_FOUND, f"gateway config {echo(config_name)} not found", param="x-keyrelay-config"
            )
        plan = plan_from_config(config, snapshot, body or {}, model, rng)
        if principal.models is not None:
            # Naming an alias grants the config its admin attached to it; a config the caller
            # picks by header never reaches a target the key could not call directly.
            allow = set(principal.models)
            grants_all = model in allow and not caller_chose_config
            plan.steps = [s for s in plan.steps if grants_all or _target_allowed(allow, s.target)]
        if route is not None and route.kind == "virtual":
            plan.virtual_model = route.name
    else:
        if route is None or not allowed(principal, model, route):
            raise _not_found(model)
        plan = Plan(
            requested=model,
            steps=steps_for_route(_allowed_targets(principal, model, route), rng),
            virtual_model=route.name if route.kind == "virtual" else None,
        )
    if pin_slug is not None:
        plan.steps = [s for s in plan.steps if s.target.slug == pin_slug]
    if not plan.steps:
        raise _not_found(model)
    return plan


def merge_fallbacks(primary: Plan, extra: Sequence[Plan]) -> Plan:
    """Body `models: [...]`: later plans' steps follow the primary's, without repeats."""
    seen = {(s.target.integration_id, s.target.model) for s in primary.steps}
    steps: list[Step] = list(primary.steps)
    for plan in extra:
        for step in plan.steps:
            key = (step.target.integration_id, step.target.model)
            if key not in seen:
                seen.add(key)
                steps.append(step)
    primary.steps = steps
    return primary
