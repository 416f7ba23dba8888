"""Gateway configs (`/api/v1/configs`): immutable versions, project-scoped or org-wide.

The contract's tree lets a target be `{integration, model?, weight?}` or, itself, a nested config;
`config_node()` normalises that into the typed `ConfigNode` catalog stores.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put

from gateway.api.edge import bearer, request_id
from gateway.api.outcomes import http_status
from gateway.api.state import GatewayState
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.bounds import Version


async def run_command(
    request: Request[Any, Any, Any], gw: GatewayState, command: m.Command, *, shown_once: dict[str, str] | None = None
) -> Response[bytes]:
    """Forward one management command with the caller's member token; return catalog's answer.

    The route's guard has already authenticated the member and pre-checked the role.
    `shown_once`: a secret the gateway made for a create command (catalog got only its hash), added
    to the answer when the creation succeeded, so it reaches the caller and never the bus."""
    rid = request_id(request)
    token = bearer(request, allow_x_api_key=False)
    reply = await gw.catalog.manage(token, command, rid)
    headers = {"x-request-id": rid}
    if reply.outcome == "done":
        return Response(b"", status_code=http_status(reply), headers=headers)
    body = bytes(reply.body)
    if shown_once and reply.outcome == "created":
        body = msgspec.json.encode({**msgspec.json.decode(body), **shown_once})
    return Response(body, status_code=http_status(reply), media_type="application/json", headers=headers)


def _project_id(data: dict[str, Any]) -> str | None:
    project_id = data.get("project_id")
    if project_id is not None and not isinstance(project_id, str):
        raise KeyrelayError("invalid_request", "project_id must be a string", param="project_id")
    return project_id


def config_node(raw: Any) -> m.ConfigNode:
    """The contract's tree: a target is `{integration, model?, weight?}` or, itself, a nested config."""

    def normalize(node: Any, depth: int = 0) -> Any:
        if not isinstance(node, dict) or depth > 8:
            raise KeyrelayError("invalid_request", "a config is a JSON object", param="config")
        targets = []
        for target in node.get("targets") or []:
            if isinstance(target, dict) and ("targets" in target or "strategy" in target):
                weight = target.get("weight", 1.0)
                nested = {k: v for k, v in target.items() if k != "weight"}
                targets.append({"node": normalize(nested, depth + 1), "weight": weight})
            else:
                targets.append(target)
        return {**node, "targets": targets}

    try:
        return msgspec.convert(normalize(raw), m.ConfigNode)
    except msgspec.ValidationError as exc:
        raise KeyrelayError("invalid_request", f"invalid config: {exc}", param="config") from None


@get("/configs", opt={"command": m.ListConfigs})
async def list_configs(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    return await run_command(request, gw, m.ListConfigs())


@post("/configs", opt={"command": m.PutConfig})
async def create_config(request: Request[Any, Any, Any], gw: GatewayState, data: dict[str, Any]) -> Response[bytes]:
    name = data.get("name")
    if not isinstance(name, str):
        raise KeyrelayError("invalid_request", "name is required", param="name")
    project_id = _project_id(data)
    body = data.get("config", {k: v for k, v in data.items() if k not in {"name", "project_id"}})
    return await run_command(
        request, gw, m.PutConfig(name=name, node=config_node(body), project_id=project_id, create_only=True)
    )


@get("/configs/{name:str}", opt={"command": m.GetConfig})
async def get_config(request: Request[Any, Any, Any], gw: GatewayState, name: str) -> Response[bytes]:
    return await run_command(request, gw, m.GetConfig(name=name))


@put("/configs/{name:str}", opt={"command": m.PutConfig})
async def put_config(
    request: Request[Any, Any, Any], gw: GatewayState, name: str, data: dict[str, Any]
) -> Response[bytes]:
    """Each PUT makes a new immutable version; `{"rollback_to": N}` re-points to version N."""
    if "rollback_to" in data:
        try:
            version = msgspec.convert(data["rollback_to"], Version)
        except msgspec.ValidationError:
            raise KeyrelayError(
                "invalid_request", "rollback_to must be a version number", param="rollback_to"
            ) from None
        return await run_command(request, gw, m.PutConfig(name=name, rollback_to=version))
    project_id = _project_id(data)
    body = data.get("config", {k: v for k, v in data.items() if k != "project_id"})
    return await run_command(request, gw, m.PutConfig(name=name, node=config_node(body), project_id=project_id))


@delete("/configs/{name:str}", status_code=200, opt={"command": m.DeleteConfig})
async def delete_config(request: Request[Any, Any, Any], gw: GatewayState, name: str) -> Response[bytes]:
    return await run_command(request, gw, m.DeleteConfig(name=name))


CONFIG_ROUTES = [list_configs, create_config, get_config, put_config, delete_config]
