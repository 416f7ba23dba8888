"""`POST /api/v1/route/explain`: which integration and model a request would use, and why.

Authenticated either with the API key an app would use, or with a member token plus the
`project_id` to explain for (the member must belong to it). No provider is called.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post

from gateway.api.edge import bearer, request_id
from gateway.api.state import GatewayState
from gateway.routing.resolve import merge_fallbacks, resolve
from shared.errors import KeyrelayError
from shared.messages.catalog import ApiKeyPrincipal
from shared.tokens import API_KEY_PREFIX


class ExplainBody(msgspec.Struct, forbid_unknown_fields=True):
    model: str
    project_id: str | None = None
    config: str | None = None
    integration: str | None = None
    models: list[str] | None = None
    request: dict[str, Any] = {}


async def _principal(request: Request[Any, Any, Any], gw: GatewayState, project_id: str | None) -> ApiKeyPrincipal:
    token = bearer(request)
    if token.startswith(API_KEY_PREFIX):
        return await gw.catalog.api_key(token)
    member = await gw.catalog.member(token)
    if project_id is None:
        raise KeyrelayError("invalid_request", "project_id is required with a member token", param="project_id")
    if member.project_role(project_id) is None:
        raise KeyrelayError("not_found", "project not found", param="project_id")
    return ApiKeyPrincipal(api_key_id="(explain)", org_id=member.org_id, project_id=project_id)


@post("/api/v1/route/explain", status_code=200)
async def explain(request: Request[Any, Any, Any], gw: GatewayState, data: ExplainBody) -> Response[bytes]:
    rid = request_id(request)
    principal = await _principal(request, gw, data.project_id)
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
                "pricing": msgspec.to_builtins(step.target.pricing),
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
