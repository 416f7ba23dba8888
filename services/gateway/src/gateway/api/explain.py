"""`POST /api/v1/route/explain`: which integration and model a request would use, and why.

Authenticated either with the API key an app would use, or with a member token plus the
`project_id` to explain for (the member must belong to it). No provider is called.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post

from gateway.api.auth import caller_guard, caller_of
from gateway.api.edge import request_id
from gateway.api.state import GatewayState
from gateway.routing.resolve import merge_fallbacks, resolve
from shared.errors import KeyrelayError
from shared.messages.catalog import ApiKeyPrincipal

MAX_EXPLAIN_BODY_BYTES = 1024 * 1024


class ExplainBody(msgspec.Struct, forbid_unknown_fields=True):
    model: str
    project_id: str | None = None
    config: str | None = None
    integration: str | None = None
    models: list[str] | None = None
    request: dict[str, Any] = {}


def _principal(request: Request[Any, Any, Any], project_id: str | None) -> ApiKeyPrincipal:
    caller = caller_of(request)  # authenticated by the route's guard, before the body was read
    if isinstance(caller, ApiKeyPrincipal):
        return caller
    if project_id is None:
        raise KeyrelayError("invalid_request", "project_id is required with a member token", param="project_id")
    if caller.project_role(project_id) is None:
        raise KeyrelayError("not_found", "project not found", param="project_id")
    return ApiKeyPrincipal(api_key_id="(explain)", org_id=caller.org_id, project_id=project_id)


@post("/api/v1/route/explain", status_code=200, guards=[caller_guard], request_max_body_size=MAX_EXPLAIN_BODY_BYTES)
async def explain(request: Request[Any, Any, Any], gw: GatewayState, data: ExplainBody) -> Response[bytes]:
    rid = request_id(request)
    principal = _principal(request, data.project_id)
    snapshot = await gw.catalog.snapshot(principal.org_id, principal.project_id)
    body = {**data.request, "model": data.model}
    plan = resolve(snapshot, principal, data.model, body=body, pin_slug=data.integration, config_name=data.config)
    if data.models:
        extra = [resolve(snapshot, principal, name, body=body, pin_slug=data.integration) for name in data.models]
        plan = merge_fallbacks(plan, extra)
    route = snapshot.routes.get(data.model)
    breakers = gw.proxy.breakers
    answer = {
        "model": data.model,
        "resolved_as": "config" if plan.config else (route.kind if route else None),
        "strategy": route.strategy if route and not plan.config else None,
        "virtual_model": plan.virtual_model,
        "config": plan.config,
        "config_version": plan.config_version,
        "plan": [
            {
                "integration": step.target.slug,
                "provider": step.target.provider,
                "model": step.target.model,
                "weight": step.target.weight,
                "breaker": breakers.state(step.target.integration_id),
                "retry": {"attempts": step.retry.attempts, "on_status_codes": step.retry.on_status_codes},
                "fallback_on": sorted(step.fallback_on),
                "pricing": msgspec.to_builtins(step.target.pricing),  # effective: the org's own terms
                "list_pricing": msgspec.to_builtins(step.target.list_pricing or step.target.pricing),
            }
            for step in plan.steps
        ],
        "notes": plan.notes
        + (
            ["loadbalance: the first target is a weighted pick per request"]
            if route and route.strategy == "loadbalance" and not plan.config
            else []
        ),
    }
    return Response(msgspec.json.encode(answer), media_type="application/json", headers={"x-request-id": rid})


EXPLAIN_ROUTES = [explain]
