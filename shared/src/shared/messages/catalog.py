"""Catalog bus messages: identity, routing snapshots and management commands.

Management commands form one tagged union (`Command`); the gateway sends them with the caller's
member-token hash and catalog authenticates, authorises and executes them itself. Replies carry
the JSON body the HTTP edge returns as is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from shared.messages.base import Msg, ProjectScope
from shared.messages.bounds import Attempts, Index, Millis, Rpm, StatusCode, Tpm, Usd, Version, Weight
from shared.messages.usage import Pricing, Usage

OrgRole = Literal["owner", "member"]
ProjectRole = Literal["admin", "developer"]
BudgetPeriod = Literal["day", "week", "month", "total"]
IntegrationStatus = Literal["active", "disabled"]
CustomHostFormat = Literal["openai", "anthropic", "cohere"]
VirtualStrategy = Literal["fallback", "loadbalance"]


# --- limits (a project's, a key's): set by management commands, carried by the principal -------
class Limits(Msg, frozen=True, kw_only=True):
    rpm: Rpm | None = None
    tpm: Tpm | None = None
    budget_usd: Usd | None = None
    budget_period: BudgetPeriod | None = None


class ApiKeyLimits(Limits, frozen=True, kw_only=True):
    models: list[str] | None = None
    expires_at: datetime | None = None


# --- identity ----------------------------------------------------------------------------------
class BootstrapRequest(Msg, frozen=True, kw_only=True):
    """The owner token is made by the CLI; only its hash crosses the bus (`shared.tokens`)."""

    org_name: str
    owner_email: str
    owner_token_hash: str


class BootstrapReply(Msg, tag="bootstrapped", frozen=True, kw_only=True):
    org_id: str
    project_id: str


class AuthenticateApiKey(Msg, frozen=True, kw_only=True):
    key_hash: str


class ApiKeyPrincipal(ApiKeyLimits, tag="api_key", frozen=True, kw_only=True):
    """The key's own limits (`ApiKeyLimits`, as it was made), its project's, and whose it is."""

    api_key_id: str
    org_id: str
    project_id: str
    name: str = ""
    content_logging: bool = False
    project_rpm: int | None = None
    project_tpm: int | None = None
    project_budget_usd: float | None = None
    project_budget_period: BudgetPeriod | None = None
    project_proof: bytes = b""  # catalog's signature that project_id belongs to org_id (for keyvault)


class AuthenticateMember(Msg, frozen=True, kw_only=True):
    token_hash: str


class MemberPrincipal(Msg, tag="member", frozen=True, kw_only=True):
    member_id: str
    org_id: str
    email: str
    org_role: OrgRole
    projects: dict[str, ProjectRole] = {}

    def project_role(self, project_id: str) -> str | None:
        if self.org_role == "owner":
            return "owner"
        return self.projects.get(project_id)


# --- routing snapshot ---------------------------------------------------------------------------
PriceBasis = Literal["list", "discount", "explicit"]


class RouteTarget(Msg, frozen=True, kw_only=True):
    integration_id: str
    slug: str
    provider: str
    adapter: str
    base_url: str
    # base_url is a custom model's own host (bound in keyvault besides the integration's base URL):
    # the gateway asks keyvault for the key for exactly this host
    own_host: bool = False
    model: str  # upstream model id
    options: dict[str, str] = {}
    pricing: Pricing = Pricing()  # the effective price: the org's own for this integration, else the list price
    list_pricing: Pricing | None = None  # the catalog (list) price when it differs from `pricing`
    # where `pricing` comes from (the org's terms): an explicit entry, the list price less `discount_pct`, the list
    price_basis: PriceBasis = "list"
    discount_pct: float = 0.0
    weight: float = 1.0

    def costs(self, usage: Usage) -> tuple[float, float]:
        """`(cost_usd, list_cost_usd)` of `usage` at the org's terms and at the list price.

        A provider that reports its own cost (`usage.cost_usd`, Perplexity's `usage.cost`) sets the
        list cost; the org pays it less its discount, unless an explicit price for the model wins."""
        listed = self.list_pricing or self.pricing
        reported = usage.cost_usd
        if reported is None:
            return self.pricing.cost(usage), listed.cost(usage)
        if self.price_basis == "explicit":
            return self.pricing.cost(usage), reported
        return round(reported * (1 - self.discount_pct / 100), 10), reported


class Route(Msg, frozen=True, kw_only=True):
    """Everything one model string can reach, in order (fallback) or by weight (loadbalance)."""

    name: str
    kind: Literal["integration", "virtual", "provider", "model"]  # "model": a bare model name
    strategy: Literal["single", "fallback", "loadbalance"] = "single"
    targets: list[RouteTarget] = []
    config: str | None = None  # a gateway config attached to a virtual model


class SnapshotRequest(Msg, frozen=True, kw_only=True):
    org_id: str
    project_id: str


class RoutingSnapshot(Msg, tag="snapshot", frozen=True, kw_only=True):
    org_id: str
    project_id: str
    version: str
    routes: dict[str, Route] = {}
    configs: dict[str, SnapshotConfig] = {}


class IntegrationReport(Msg, frozen=True, kw_only=True):
    """The gateway tells catalog how real traffic went (status, last error class, last use)."""

    org_id: str
    integration_id: str
    ok: bool
    error_class: str | None = None  # "auth" (401/403) | "rate_limit" (429) | "server" (5xx) | "timeout"
    at: datetime | None = None


class Ack(Msg, tag="ack", frozen=True, kw_only=True):
    pass


# --- management ----------------------------------------------------------------------------------
class ListProviders(Msg, tag="providers.list", frozen=True, kw_only=True):
    pass


class ListProjects(Msg, tag="projects.list", frozen=True, kw_only=True):
    pass


# Field sets shared by a command and the HTTP body it is made from (`gateway.api.management`
# derives its request bodies from them); the command adds what only the edge knows (ids, hashes).
class NewProject(Limits, frozen=True, kw_only=True):
    name: str
    content_logging: bool = False


class ProjectChanges(Limits, frozen=True, kw_only=True):
    name: str | None = None
    content_logging: bool | None = None


class NewMember(Msg, frozen=True, kw_only=True):
    email: str
    org_role: OrgRole = "member"
    projects: dict[str, ProjectRole] = {}


class MemberChanges(Msg, frozen=True, kw_only=True):
    org_role: OrgRole | None = None
    projects: dict[str, ProjectRole] | None = None


class NewApiKey(ApiKeyLimits, frozen=True, kw_only=True):
    project_id: str
    name: str


class ApiKeyChanges(ApiKeyLimits, frozen=True, kw_only=True):
    name: str | None = None


class CreateProject(NewProject, tag="projects.create", frozen=True, kw_only=True):
    pass


class GetProject(Msg, tag="projects.get", frozen=True, kw_only=True):
    project_id: str


class UpdateProject(ProjectChanges, tag="projects.update", frozen=True, kw_only=True):
    project_id: str


class DeleteProject(Msg, tag="projects.delete", frozen=True, kw_only=True):
    project_id: str


class ListMembers(Msg, tag="members.list", frozen=True, kw_only=True):
    pass


class CreateMember(NewMember, tag="members.create", frozen=True, kw_only=True):
    """The member token is made by the gateway, which alone returns it; catalog gets its hash."""

    token_hash: str


class UpdateMember(MemberChanges, tag="members.update", frozen=True, kw_only=True):
    member_id: str


class DeleteMember(Msg, tag="members.delete", frozen=True, kw_only=True):
    member_id: str


class ListApiKeys(Msg, tag="api_keys.list", frozen=True, kw_only=True):
    project_id: str | None = None


class CreateApiKey(NewApiKey, tag="api_keys.create", frozen=True, kw_only=True):
    """The key is made by the gateway, which alone returns it; catalog gets its hash and prefix."""

    key_hash: str
    key_prefix: str


class UpdateApiKey(ApiKeyChanges, tag="api_keys.update", frozen=True, kw_only=True):
    api_key_id: str


class DeleteApiKey(Msg, tag="api_keys.delete", frozen=True, kw_only=True):
    api_key_id: str


class CustomHost(Msg, frozen=True, kw_only=True):
    base_url: str
    api_format: CustomHostFormat = "openai"


class CredentialInput(Msg, frozen=True, kw_only=True):
    """What the edge passes on: secrets sealed to keyvault, non-secret settings in clear."""

    sealed: bytes  # SealedBox(keyvault public key, JSON secret payload)
    public: dict[str, Any] = {}  # e.g. azure resource_name/deployments/api_version
    secret_fields: list[str] = []  # names of the sealed fields (never values)
    header_names: list[str] = []  # forwarded custom auth header names


class ModelSelection(Msg, frozen=True, kw_only=True):
    enabled: list[str] | None = None
    all: bool = False
    none: bool = False


class CustomModel(Msg, frozen=True, kw_only=True):
    slug: str
    base_model: str | None = None
    custom_host: CustomHost | None = None
    pricing: Pricing = Pricing()


class ListIntegrations(Msg, tag="integrations.list", frozen=True, kw_only=True):
    pass


class CreateIntegration(Msg, tag="integrations.create", frozen=True, kw_only=True):
    provider: str
    name: str
    slug: str
    credentials: CredentialInput
    description: str = ""
    project_scope: ProjectScope = "all"
    custom_host: CustomHost | None = None
    models: ModelSelection = ModelSelection()


class GetIntegration(Msg, tag="integrations.get", frozen=True, kw_only=True):
    slug: str


class IntegrationChanges(Msg, frozen=True, kw_only=True):
    """The settings a PATCH of an integration changes as sent (its HTTP body derives from them)."""

    name: str | None = None
    description: str | None = None
    project_scope: ProjectScope | None = None
    status: IntegrationStatus | None = None
    custom_host: CustomHost | None = None


class UpdateIntegration(IntegrationChanges, tag="integrations.update", frozen=True, kw_only=True):
    slug: str
    custom_headers: CredentialInput | None = None  # new header values, sealed to keyvault (no secret fields)


class DeleteIntegration(Msg, tag="integrations.delete", frozen=True, kw_only=True):
    slug: str


class PutCredentials(Msg, tag="integrations.credentials", frozen=True, kw_only=True):
    slug: str
    credentials: CredentialInput
    custom_host: CustomHost | None = None


class ListModels(Msg, tag="models.list", frozen=True, kw_only=True):
    slug: str


class SetModels(Msg, tag="models.set", frozen=True, kw_only=True):
    slug: str
    selection: ModelSelection


class AddCustomModel(Msg, tag="custom_models.create", frozen=True, kw_only=True):
    slug: str
    model: CustomModel


class DeleteCustomModel(Msg, tag="custom_models.delete", frozen=True, kw_only=True):
    slug: str
    model_slug: str


class ModelPrice(Msg, frozen=True, kw_only=True):
    """An org's own price for one model (negotiated): replaces the model's list price entirely."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None
    per_request: float | None = None
    per_image: float | None = None
    per_credit: float | None = None


class PricingTerms(Msg, frozen=True, kw_only=True):
    """An integration's economics: a discount on list prices and/or explicit prices per model."""

    discount_pct: float = 0.0
    models: dict[str, ModelPrice] = {}


class GetPricing(Msg, tag="pricing.get", frozen=True, kw_only=True):
    slug: str


class PutPricing(Msg, tag="pricing.put", frozen=True, kw_only=True):
    slug: str
    terms: PricingTerms


class VirtualTarget(Msg, frozen=True, kw_only=True):
    model: str
    weight: Weight = 1.0


class VirtualModelSpec(Msg, frozen=True, kw_only=True):
    name: str
    strategy: VirtualStrategy = "fallback"
    targets: list[VirtualTarget] = []
    project_id: str | None = None
    config: str | None = None


class ListVirtualModels(Msg, tag="virtual_models.list", frozen=True, kw_only=True):
    pass


class PutVirtualModel(Msg, tag="virtual_models.put", frozen=True, kw_only=True):
    spec: VirtualModelSpec
    create_only: bool = False


class GetVirtualModel(Msg, tag="virtual_models.get", frozen=True, kw_only=True):
    name: str


class DeleteVirtualModel(Msg, tag="virtual_models.delete", frozen=True, kw_only=True):
    name: str


# --- gateway configs ------------------------------------------------------------------------------
class RetryPolicy(Msg, frozen=True, kw_only=True):
    attempts: Attempts = 1  # tries per target, including the first
    on_status_codes: list[StatusCode] = msgspec.field(default_factory=lambda: [429, 500, 502, 503, 504, 529])
    backoff_ms: Millis = 200
    max_backoff_ms: Millis = 5_000
    respect_retry_after: bool = True
    max_retry_after_ms: Millis = 10_000


class Condition(Msg, frozen=True, kw_only=True):
    """`field` is a dotted path into the request (`metadata.tier`, `model`, `max_tokens`)."""

    field: str
    op: Literal["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists"] = "eq"
    value: Any = None
    then: Index = 0  # index into `targets`


class Strategy(Msg, frozen=True, kw_only=True):
    mode: Literal["single", "fallback", "loadbalance", "conditional"] = "fallback"
    on_status_codes: list[StatusCode] = msgspec.field(
        default_factory=lambda: [401, 403, 404, 408, 409, 429, 500, 502, 503, 504, 529]
    )
    conditions: list[Condition] = []
    default: Index = 0


class ConfigTarget(Msg, frozen=True, kw_only=True):
    integration: str | None = None  # slug; a nested node leaves it empty
    model: str | None = None  # None: the request's model
    weight: Weight = 1.0
    node: ConfigNode | None = None


class ConfigNode(Msg, frozen=True, kw_only=True):
    strategy: Strategy = Strategy()
    retry: RetryPolicy = RetryPolicy()
    timeout_ms: Millis | None = None  # per attempt (non-streaming) / between chunks
    first_byte_timeout_ms: Millis | None = None  # time to first byte, per attempt
    total_timeout_ms: Millis | None = None  # whole request, all attempts
    targets: list[ConfigTarget] = []


class ListConfigs(Msg, tag="configs.list", frozen=True, kw_only=True):
    pass


class PutConfig(Msg, tag="configs.put", frozen=True, kw_only=True):
    name: str
    node: ConfigNode | None = None
    project_id: str | None = None  # None: org-wide (owners); else that project's admins
    rollback_to: Version | None = None
    create_only: bool = False


class GetConfig(Msg, tag="configs.get", frozen=True, kw_only=True):
    name: str


class DeleteConfig(Msg, tag="configs.delete", frozen=True, kw_only=True):
    name: str


class SnapshotConfig(Msg, frozen=True, kw_only=True):
    name: str
    version: int
    node: ConfigNode


class RecordDenied(Msg, tag="denied.record", frozen=True, kw_only=True):
    """The gateway refused `command` (a command type's name) before reading the request: catalog
    audits the refusal, after checking with the same rule that the caller was indeed refused."""

    command: str


Command = (
    ListProviders
    | ListProjects
    | CreateProject
    | GetProject
    | UpdateProject
    | DeleteProject
    | ListMembers
    | CreateMember
    | UpdateMember
    | DeleteMember
    | ListApiKeys
    | CreateApiKey
    | UpdateApiKey
    | DeleteApiKey
    | ListIntegrations
    | CreateIntegration
    | GetIntegration
    | UpdateIntegration
    | DeleteIntegration
    | PutCredentials
    | ListModels
    | SetModels
    | AddCustomModel
    | DeleteCustomModel
    | GetPricing
    | PutPricing
    | ListVirtualModels
    | PutVirtualModel
    | GetVirtualModel
    | DeleteVirtualModel
    | ListConfigs
    | PutConfig
    | GetConfig
    | DeleteConfig
    | RecordDenied
)


class ManageRequest(Msg, frozen=True, kw_only=True):
    token_hash: str
    command: Command
    request_id: str = ""


ManageOutcome = Literal["ok", "created", "done"]
"""What a command did: answered or changed something (`ok`), made something (`created`), or
removed something / has nothing to show (`done`). Refusals travel as `Failed` with their code."""


class ManageReply(Msg, tag="reply", frozen=True, kw_only=True):
    outcome: ManageOutcome = "ok"
    body: msgspec.Raw = msgspec.Raw(b"null")


class CatalogChanged(Msg, frozen=True, kw_only=True):
    """Broadcast after any change; ids only. Gateways drop cached snapshots/keys for the org."""

    org_id: str
    kind: str  # integration | project | api_key | member | virtual_model | config
    ids: list[str] = []


# --- console sign-in: passwords and sessions (gateway -> catalog) ----------------------------------
# The gateway runs the KDF (scrypt) so the password itself never leaves the edge; catalog stores
# only the SHA-256 of the KDF output, so a copy of its database cannot be replayed as a proof.
class PasswordParams(Msg, tag="password_params", frozen=True, kw_only=True):
    """Salt and scrypt cost for an email (a stable decoy for unknown emails: no enumeration)."""

    salt: str  # hex
    n: int = 16384
    r: int = 8
    p: int = 1


class GetPasswordParams(Msg, frozen=True, kw_only=True):
    email: str


class SetPassword(Msg, frozen=True, kw_only=True):
    """The one-time member token (its hash) proves who sets the first password; used once."""

    token_hash: str
    salt: str
    proof: str  # hex scrypt output
    n: int = 16384
    r: int = 8
    p: int = 1


class StartSession(Msg, frozen=True, kw_only=True):
    email: str
    proof: str  # hex scrypt output for the salt catalog handed out
    session_hash: str  # SHA-256 of the session token the gateway puts in the cookie


class SessionStarted(Msg, tag="session", frozen=True, kw_only=True):
    principal: MemberPrincipal
    expires_at: datetime


class EndSession(Msg, frozen=True, kw_only=True):
    session_hash: str
