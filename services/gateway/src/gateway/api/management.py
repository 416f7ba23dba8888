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

from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put

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


class IntegrationPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    description: str | None = None
    project_scope: ProjectScope | None = None
    status: m.IntegrationStatus | None = None
    custom_host: CustomHostBody | None = None
    custom_headers: dict[str, str] | None = None


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


# --- providers, projects, members -----------------------------------------------------------------
@get("/providers", opt={"command": m.ListProviders})
async def list_providers(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    return await _run(request, gw, m.ListProviders())


@get("/projects", opt={"command": m.ListProjects})
async def list_projects(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    return await _run(request, gw, m.ListProjects())


@post("/projects", opt={"command": m.CreateProject})
async def create_project(request: Request[Any, Any, Any], gw: GatewayState, data: ProjectBody) -> Response[bytes]:
    return await _run(request, gw, m.CreateProject(**msgspec.structs.asdict(data)))


@get("/projects/{project_id:str}", opt={"command": m.GetProject})
async def get_project(request: Request[Any, Any, Any], gw: GatewayState, project_id: str) -> Response[bytes]:
    return await _run(request, gw, m.GetProject(project_id=project_id))


@patch("/projects/{project_id:str}", opt={"command": m.UpdateProject})
async def update_project(
    request: Request[Any, Any, Any], gw: GatewayState, project_id: str, data: ProjectPatch
) -> Response[bytes]:
    return await _run(request, gw, m.UpdateProject(project_id=project_id, **msgspec.structs.asdict(data)))


@delete("/projects/{project_id:str}", status_code=200, opt={"command": m.DeleteProject})
async def delete_project(request: Request[Any, Any, Any], gw: GatewayState, project_id: str) -> Response[bytes]:
    return await _run(request, gw, m.DeleteProject(project_id=project_id))


@get("/members", opt={"command": m.ListMembers})
async def list_members(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    return await _run(request, gw, m.ListMembers())


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


@delete("/members/{member_id:str}", status_code=200, opt={"command": m.DeleteMember})
async def delete_member(request: Request[Any, Any, Any], gw: GatewayState, member_id: str) -> Response[bytes]:
    return await _run(request, gw, m.DeleteMember(member_id=member_id))


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


@delete("/api-keys/{api_key_id:str}", status_code=200, opt={"command": m.DeleteApiKey})
async def delete_api_key(request: Request[Any, Any, Any], gw: GatewayState, api_key_id: str) -> Response[bytes]:
    return await _run(request, gw, m.DeleteApiKey(api_key_id=api_key_id))


# --- integrations and their models ----------------------------------------------------------------
@get("/integrations", opt={"command": m.ListIntegrations})
async def list_integrations(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    return await _run(request, gw, m.ListIntegrations())


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


@get("/integrations/{slug:str}", opt={"command": m.GetIntegration})
async def get_integration(request: Request[Any, Any, Any], gw: GatewayState, slug: str) -> Response[bytes]:
    return await _run(request, gw, m.GetIntegration(slug=slug))


@patch("/integrations/{slug:str}", opt={"command": m.UpdateIntegration})
async def update_integration(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: IntegrationPatch
) -> Response[bytes]:
    command = m.UpdateIntegration(
        slug=slug,
        name=data.name,
        description=data.description,
        project_scope=data.project_scope,
        status=data.status,
        custom_host=data.custom_host,
        custom_headers=_credential_input(gw, {}, data.custom_headers) if data.custom_headers is not None else None,
    )
    return await _run(request, gw, command)


@delete("/integrations/{slug:str}", status_code=200, opt={"command": m.DeleteIntegration})
async def delete_integration(request: Request[Any, Any, Any], gw: GatewayState, slug: str) -> Response[bytes]:
    return await _run(request, gw, m.DeleteIntegration(slug=slug))


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


@get("/integrations/{slug:str}/models", opt={"command": m.ListModels})
async def list_models(request: Request[Any, Any, Any], gw: GatewayState, slug: str) -> Response[bytes]:
    return await _run(request, gw, m.ListModels(slug=slug))


@put("/integrations/{slug:str}/models", opt={"command": m.SetModels})
async def set_models(request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: ModelsBody) -> Response[bytes]:
    return await _run(request, gw, m.SetModels(slug=slug, selection=data))


@post("/integrations/{slug:str}/custom-models", opt={"command": m.AddCustomModel})
async def add_custom_model(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, data: CustomModelBody
) -> Response[bytes]:
    model = msgspec.convert(msgspec.to_builtins(data), m.CustomModel)
    return await _run(request, gw, m.AddCustomModel(slug=slug, model=model))


@delete(
    "/integrations/{slug:str}/custom-models/{model_slug:str}", status_code=200, opt={"command": m.DeleteCustomModel}
)
async def delete_custom_model(
    request: Request[Any, Any, Any], gw: GatewayState, slug: str, model_slug: str
) -> Response[bytes]:
    return await _run(request, gw, m.DeleteCustomModel(slug=slug, model_slug=model_slug))


# --- virtual models -------------------------------------------------------------------------------
@get("/virtual-models", opt={"command": m.ListVirtualModels})
async def list_virtual_models(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    return await _run(request, gw, m.ListVirtualModels())


@post("/virtual-models", opt={"command": m.PutVirtualModel})
async def create_virtual_model(
    request: Request[Any, Any, Any], gw: GatewayState, data: VirtualModelBody
) -> Response[bytes]:
    return await _run(request, gw, m.PutVirtualModel(spec=data.spec(data.name), create_only=True))


@get("/virtual-models/{name:str}", opt={"command": m.GetVirtualModel})
async def get_virtual_model(request: Request[Any, Any, Any], gw: GatewayState, name: str) -> Response[bytes]:
    return await _run(request, gw, m.GetVirtualModel(name=name))


@put("/virtual-models/{name:str}", opt={"command": m.PutVirtualModel})
async def put_virtual_model(
    request: Request[Any, Any, Any], gw: GatewayState, name: str, data: VirtualModelPut
) -> Response[bytes]:
    return await _run(request, gw, m.PutVirtualModel(spec=data.spec(name)))


@delete("/virtual-models/{name:str}", status_code=200, opt={"command": m.DeleteVirtualModel})
async def delete_virtual_model(request: Request[Any, Any, Any], gw: GatewayState, name: str) -> Response[bytes]:
    return await _run(request, gw, m.DeleteVirtualModel(name=name))


MANAGEMENT_ROUTES = [
    *CONFIG_ROUTES,
    list_providers,
    list_projects,
    create_project,
    get_project,
    update_project,
    delete_project,
    list_members,
    create_member,
    update_member,
    delete_member,
    list_api_keys,
    create_api_key,
    update_api_key,
    delete_api_key,
    list_integrations,
    create_integration,
    get_integration,
    update_integration,
    delete_integration,
    put_credentials,
    list_models,
    set_models,
    add_custom_model,
    delete_custom_model,
    list_virtual_models,
    create_virtual_model,
    get_virtual_model,
    put_virtual_model,
    delete_virtual_model,
]


def management_router() -> Router:
    """Every route authenticates the member and pre-checks the role before any parameter is parsed."""
    return Router(
        path="/api/v1",
        route_handlers=MANAGEMENT_ROUTES,
        guards=[member_guard],
        request_max_body_size=MAX_MANAGEMENT_BODY_BYTES,
    )
