"""What every command handler gets: storage, events, keyvault's admin client, catalog data.

Each part is named by the protocol the commands use, so a command runs the same against MongoDB
(`catalog.repository.CatalogRepository`) and against any other `Store` (the unit tests' in-memory one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from nacl.signing import SigningKey

from catalog.providers import ModelCatalog, ProviderRegistry
from catalog.repository import Store
from catalog.settings import CatalogSettings
from shared.messages import keyvault as kv
from shared.messages.catalog import MemberPrincipal
from shared.netpolicy import AddressPolicy


class Events(Protocol):
    """Change events (ids only) and audit events; `catalog.events.CatalogEvents` on NATS."""

    async def changed(self, org_id: str, kind: str, *ids: str) -> None: ...

    def audit(
        self,
        actor: MemberPrincipal | None,
        org_id: str,
        action: str,
        target_type: str,
        target_id: str,
        *,
        outcome: str = "ok",
        detail: dict[str, str] | None = None,
    ) -> None: ...


class Vault(Protocol):
    """Keyvault's admin subjects; `catalog.vault_admin.VaultAdminClient` on NATS."""

    async def put(
        self,
        *,
        assertion: bytes,
        org_id: str,
        integration_id: str,
        provider: str,
        base_url: str,
        project_scope: kv.Scope,
        sealed: bytes,
        keep_secret: bool = False,
        keep_headers: bool = False,
    ) -> kv.CredentialView: ...

    async def delete(self, *, assertion: bytes, org_id: str, integration_id: str) -> None: ...

    async def set_scope(
        self, *, assertion: bytes, org_id: str, integration_id: str, project_scope: kv.Scope
    ) -> None: ...

    async def describe(self, *, org_id: str, integration_ids: list[str]) -> dict[str, dict[str, Any]]: ...


@dataclass(slots=True)
class Ctx:
    repo: Store
    events: Events
    vault: Vault
    providers: ProviderRegistry
    models: ModelCatalog
    addresses: AddressPolicy
    settings: CatalogSettings
    signing_key: SigningKey  # Ed25519: signs owner assertions and project membership for keyvault
