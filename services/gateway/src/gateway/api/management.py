"""Management API (`/api/v1`): HTTP in, a typed catalog command out, catalog's JSON back.

Before any parameter or body is parsed, the router's guard authenticates the member and applies the
body-independent part of the route's rule (`gateway.api.auth`), so a caller without the right gets
401/403 and never a validation error. catalog then authenticates, authorises (see `catalog.policy`)
and executes the command itself. The only other work done here is what must happen at the edge:
credentials are sealed to keyvault's public key the moment they arrive, and new member tokens and
API keys are made here with only their hashes sent to catalog, so no other component, log or bus
message ever holds them in clear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.handlers import HTTPRouteHandler

from gateway.api.auth import member_guard
from gateway.api.configs import CONFIG_ROUTES, run_command
from gateway.api.state import GatewayState
from shared.messages import catalog as m
from shared.messages.base import ProjectScope
from shared.messages.bounds import PricePerUnit
from shared.tokens import API_KEY_PUBLIC_CHARS, hash_token, new_api_key, new_member_token
from shared.vault import seal_for_keyvault
from shared.vault.rules import PUBLIC_CREDENTIAL_FIELDS

MAX_MANAGEMENT_BODY_BYTES = 1024 * 1024  # far above any management body; keeps documents far below 16 MB


# Request bodies: the command's own field set (`shared.messages.catalog`) refusing unknown fields;
# the command adds what only the edge knows (path ids, hashes of secrets it made, sealed credentials).
class ProjectBody(m.NewProject, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ProjectPatch(m.ProjectChanges, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class MemberBody(m.NewMember, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class MemberPatch(m.MemberChanges, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ApiKeyBody(m.NewApiKey, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ApiKeyPatch(m.ApiKeyChanges, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class CustomHostBody(m.CustomHost, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ModelsBody(m.ModelSelection, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class VirtualTargetBody(m.VirtualTarget, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class IntegrationBody(msgspec.Struct, forbid_unknown_fields=True):
    provider: str
    name: str
    slug: str
    credentials: dict[str, Any]
    description: str = ""
    project_scope: ProjectScope = "all"
    custom_host: CustomHostBody | None = None
    custom_headers: dict[str, str] = {}
    models: ModelsBody = msgspec.field(default_factory=ModelsBody)


class IntegrationPatch(m.IntegrationChanges, frozen=True, kw_only=True, forbid_unknown_fields=True):
    custom_host: CustomHostBody | None = None
    custom_headers: dict[str, str] | None = None  # in clear here: sealed to keyvault before the command


class CredentialsBody(msgspec.Struct, forbid_unknown_fields=True):
    credentials: dict[str, Any]
    custom_headers: dict[str, str] = {}
    custom_host: CustomHostBody | None = None


class PricingBody(msgspec.Struct, forbid_unknown_fields=True):
    """The prices a custom model may set (`Pricing` has more, filled in by catalog's data only)."""

    input_per_mtok: PricePerUnit = 0.0
    output_per_mtok: PricePerUnit = 0.0
    cached_input_per_mtok: PricePerUnit | None = None


class CustomModelBody(msgspec.Struct, forbid_unknown_fields=True):
    slug: str
    base_model: str | None = None
    custom_host: CustomHostBody | None = None
    pricing: PricingBody = msgspec.field(default_factory=PricingBody)


class ModelPriceBody(m.ModelPrice, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class PricingTermsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    discount_pct: float = 0.0
    models: dict[str, ModelPriceBody] = {}


class VirtualModelPut(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    targets: list[VirtualTargetBody] = []
    strategy: m.VirtualStrategy = "fallback"
    project_id: str | None = None
    config: str | None = None

    def spec(self, name: str) -> m.VirtualModelSpec:
        targets = list[m.VirtualTarget](self.targets)
        return m.VirtualModelSpec(
            name=name, strategy=self.strategy, targets=targets, project_id=self.project_id, config=self.config
        )


class VirtualModelBody(VirtualModelPut, kw_only=True, forbid_unknown_fields=True):
    name: str


_run = run_command


def _credential_input(gw: GatewayState, credentials: dict[str, Any], headers: dict[str, str]) -> m.CredentialInput:
    """Seal every credential value that is not a known public setting, and every header value.

    An unknown or misspelt field (`apikey`) is sealed too, so its value never travels in clear;
    catalog refuses it by name and keyvault validates every sealed value (`shared.vault.rules`).
    """
    public = {k: v for k, v in credentials.items() if k in PUBLIC_CREDENTIAL_FIELDS}
    secret = {k: v for k, v in credentials.items() if k not in PUBLIC_CREDENTIAL_FIELDS and v not in (None, "")}
    payload = {**secret, "headers": dict(headers)}
    sealed = seal_for_keyvault(payload, gw.settings.keyvault_public_key)
    return m.CredentialInput(sealed=sealed, public=public, secret_fields=sorted(secret), header_names=sorted(headers))


def _path_route(route: type[get | delete], path: str, command: Callable[..., m.Command], name: str) -> HTTPRouteHandler:
    """A route whose command is made from its path parameters alone (a list, a read or a delete)."""

    async def handler(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
        return await _run(request, gw, command(**request.path_params))

    handler.__name__ = handler.__qualname__ = name
    return route(path, status_code=200, opt={"command": command})(handler)  # 200, not 204, for a delete too


# --- providers, projects, members -----------------------------------------------------------------
@post("/projects", opt={"command": m.CreateProject})
async def create_project(request: Request[Any, Any, Any], gw: GatewayState, data: ProjectBody) -> Response[bytes]:
    return await _run(request, gw, m.CreateProject(**msgspec.structs.asdict(data)))


@patch("/projects/{project_id:str}", opt={"command": m.UpdateProject})
async def update_project(
    request: Request[Any, Any, Any], gw: GatewayState, project_id: str, data: ProjectPatch
) -> Response[bytes]:
    return await _run(request, gw, m.UpdateProject(project_id=project_id, **msgspec.structs.asdict(data)))


@post("/members", opt={"command": m.CreateMember})
async def create_member(request: Request[Any, Any, Any], gw: GatewayState, data: MemberBody) -> Response[bytes]:
    token = new_member_token()
    command = m.CreateMember(**msgspec.structs.asdict(data), token_hash=hash_token(token))
    return await _run(request, gw, command, shown_once={"token": token})


@patch("/members/{member_id:str}", opt={"command": m.UpdateMember})
async def update_member(
    request: Request[Any, Any, Any], gw: GatewayState, member_id: str, data: MemberPatch
) -> Response[bytes]:
    return await _run(request, gw, m.UpdateMember(member_id=member_id, **msgspec.structs.asdict(data)))


# --- API keys -------------------------------------------------------------------------------------
@get("/api-keys", opt={"command": m.ListApiKeys})
async def list_api_keys(
    request: Request[Any, Any, Any], gw: GatewayState, project_id: str | None = None
) -> Response[bytes]:
    return await _run(request, gw, m.ListApiKeys(project_id=project_id))


@post("/api-keys", opt={"command": m.CreateApiKey})
async def create_api_key(request: Request[Any, Any, Any], gw: GatewayState, data: ApiKeyBody) -> Response[bytes]:
    key = new_api_key()
    command = m.CreateApiKey(
        **msgspec.structs.asdict(data), key_hash=hash_token(key), key_prefix=key[:API_KEY_PUBLIC_CHARS]
    )
    return await _run(request, gw, command, shown_once={"key": key})


@patch("/api-keys/{api_key_id:str}", opt={"command": m.UpdateApiKey})
async def update_api_key(
    request: Request[Any, Any, Any], gw: GatewayState, api_key_id: str, data: ApiKeyPatch
) -> Response[bytes]:
    return await _run(request, gw, m.UpdateApiKey(api_key_id=api_key_id, **msgspec.structs.asdict(data)))


# --- integrations and their models ----------------------------------------------------------------
@post("/integrations", opt={"command": m.CreateIntegration})
async def create_integration(
    request: Request[Any, Any, Any], gw: GatewayState, data: IntegrationBody
) -> Response[bytes]:
    command = m.CreateIntegration(
        provider=data.provider,
        name=data.name,
        slug=data.slug,
        description=data.description,
        project_scope=data.project_scope,
        credentials=_credential_input(gw, data.credentials, data.custom_headers),
        custom_host=data.custom_host,
        models=data.models,
    )
    return await _run(request, gw, command)


@patch("/integrations/{slug:str}", opt={"command": m.UpdateIntegration})
async def update_integration(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: IntegrationPatch
) -> Response[bytes]:
    changes = msgspec.structs.asdict(data)
    headers = changes.pop("custom_headers")
    sealed = None if headers is None else _credential_input(gw, {}, headers)
    return await _run(request, gw, m.UpdateIntegration(slug=slug, custom_headers=sealed, **changes))


@put("/integrations/{slug:str}/credentials", opt={"command": m.PutCredentials})
async def put_credentials(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: CredentialsBody
) -> Response[bytes]:
    command = m.PutCredentials(
        slug=slug,
        credentials=_credential_input(gw, data.credentials, data.custom_headers),
        custom_host=data.custom_host,
    )
    return await _run(request, gw, command)


@put("/integrations/{slug:str}/models", opt={"command": m.SetModels})
async def set_models(request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: ModelsBody) -> Response[bytes]:
    return await _run(request, gw, m.SetModels(slug=slug, selection=data))


@post("/integrations/{slug:str}/custom-models", opt={"command": m.AddCustomModel})
async def add_custom_model(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: CustomModelBody
) -> Response[bytes]:
    model = msgspec.convert(msgspec.to_builtins(data), m.CustomModel)
    return await _run(request, gw, m.AddCustomModel(slug=slug, model=model))


@put("/integrations/{slug:str}/pricing", opt={"command": m.PutPricing})
async def put_pricing(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: PricingTermsBody
) -> Response[bytes]:
    terms = m.PricingTerms(discount_pct=data.discount_pct, models=dict[str, m.ModelPrice](data.models))
    return await _run(request, gw, m.PutPricing(slug=slug, terms=terms))


# --- virtual models -------------------------------------------------------------------------------
@post("/virtual-models", opt={"command": m.PutVirtualModel})
async def create_virtual_model(
    request: Request[Any, Any, Any], gw: GatewayState, data: VirtualModelBody
) -> Response[bytes]:
    return await _run(request, gw, m.PutVirtualModel(spec=data.spec(data.name), create_only=True))


@put("/virtual-models/{name:str}", opt={"command": m.PutVirtualModel})
async def put_virtual_model(
    request: Request[Any, Any, Any], gw: GatewayState, name: str, data: VirtualModelPut
) -> Response[bytes]:
    return await _run(request, gw, m.PutVirtualModel(spec=data.spec(name)))


# Lists, reads and deletes: the command from the path alone.
_PATH_ROUTES = [
    _path_route(get, "/providers", m.ListProviders, "list_providers"),
    _path_route(get, "/projects", m.ListProjects, "list_projects"),
    _path_route(get, "/projects/{project_id:str}", m.GetProject, "get_project"),
    _path_route(delete, "/projects/{project_id:str}", m.DeleteProject, "delete_project"),
    _path_route(get, "/members", m.ListMembers, "list_members"),
    _path_route(delete, "/members/{member_id:str}", m.DeleteMember, "delete_member"),
    _path_route(delete, "/api-keys/{api_key_id:str}", m.DeleteApiKey, "delete_api_key"),
    _path_route(get, "/integrations", m.ListIntegrations, "list_integrations"),
    _path_route(get, "/integrations/{slug:str}", m.GetIntegration, "get_integration"),
    _path_route(delete, "/integrations/{slug:str}", m.DeleteIntegration, "delete_integration"),
    _path_route(get, "/integrations/{slug:str}/models", m.ListModels, "list_models"),
    _path_route(get, "/integrations/{slug:str}/pricing", m.GetPricing, "get_pricing"),
    _path_route(
        delete,
        "/integrations/{slug:str}/custom-models/{model_slug:str}",
        m.DeleteCustomModel,
        "delete_custom_model",
    ),
    _path_route(get, "/virtual-models", m.ListVirtualModels, "list_virtual_models"),
    _path_route(get, "/virtual-models/{name:str}", m.GetVirtualModel, "get_virtual_model"),
    _path_route(delete, "/virtual-models/{name:str}", m.DeleteVirtualModel, "delete_virtual_model"),
]


MANAGEMENT_ROUTES = [
    *CONFIG_ROUTES,
    *_PATH_ROUTES,
    create_project,
    update_project,
    create_member,
    update_member,
    list_api_keys,
    create_api_key,
    update_api_key,
    create_integration,
    update_integration,
    put_credentials,
    set_models,
    add_custom_model,
    put_pricing,
    create_virtual_model,
    put_virtual_model,
]


def management_router() -> Router:
    """Every route authenticates the member and pre-checks the role before any parameter is parsed."""
    return Router(
        path="/api/v1",
        route_handlers=MANAGEMENT_ROUTES,
        guards=[member_guard],
        request_max_body_size=MAX_MANAGEMENT_BODY_BYTES,
    )
