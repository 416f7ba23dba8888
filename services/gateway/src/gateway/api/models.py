"""`GET /v1/models` and `GET /v1/models/{id}`: every model string this key can route.

One object shape serves both SDK families: OpenAI's model object (`id`, `object`, `created`,
`owned_by`) plus Anthropic's fields (`type`, `display_name`, `created_at`), and the list adds
Anthropic's paging fields (`has_more`, `first_id`, `last_id`), so `client.models.list()` and
`.retrieve()` of either SDK, and Claude Code's gateway model discovery, read it as their own.
Ids may contain `/` (`@slug/model`, `provider/model`), so the id is the rest of the path.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.api.edge import bearer, request_id
from gateway.api.inference import json_response
from gateway.api.state import GatewayState
from gateway.routing.resolve import routable, routable_names
from shared.errors import ErrorCode, KeyrelayError, echo
from shared.messages.catalog import Route

_EPOCH = "1970-01-01T00:00:00Z"


def model_object(name: str, route: Route) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": 0,
        "owned_by": _owner(name, route),
        "type": "model",
        "display_name": name,
        "created_at": _EPOCH,
    }


def _owner(name: str, route: Route) -> str:
    """The integration of `@slug/m`, the provider of `provider/m` (or of a bare name all of whose
    integrations share one provider), else `keyrelay` (virtual models, mixed providers)."""
    if route.kind == "integration" and name.startswith("@"):
        return name[1:].split("/", 1)[0]
    providers = {t.provider for t in route.targets}
    if route.kind in {"provider", "model"} and len(providers) == 1:
        return providers.pop()
    return "keyrelay"


@get("/v1/models")
async def list_models(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    rid = request_id(request)
    principal = await gw.catalog.api_key(bearer(request))
    snapshot = await gw.catalog.snapshot(principal.org_id, principal.project_id)
    data = [model_object(name, snapshot.routes[name]) for name in routable_names(snapshot, principal)]
    body = {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    return json_response(body, {"x-request-id": rid})


@get("/v1/models/{model_id:path}")
async def retrieve_model(request: Request[Any, Any, Any], gw: GatewayState, model_id: str) -> Response[bytes]:
    rid = request_id(request)
    principal = await gw.catalog.api_key(bearer(request))
    name = model_id.lstrip("/")
    snapshot = await gw.catalog.snapshot(principal.org_id, principal.project_id)
    route = routable(snapshot, principal, name) if name else None
    if route is None:
        raise KeyrelayError(
            ErrorCode.MODEL_NOT_FOUND, f"model {echo(name)} is not available to this key", param="model"
        )
    return json_response(model_object(name, route), {"x-request-id": rid})


MODEL_ROUTES = [list_models, retrieve_model]
