"""What every command handler gets: repository, events, keyvault admin client, catalog data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from catalog.events import CatalogEvents
from catalog.providers import ModelCatalog, ProviderRegistry
from catalog.repository import CatalogRepository
from catalog.settings import CatalogSettings
from shared.messages.catalog import MemberPrincipal
from shared.netpolicy import AddressPolicy
from shared.vault.admin import VaultAdminClient


@dataclass(slots=True)
class Reply:
    status: int
    body: Any


@dataclass(slots=True)
class Ctx:
    repo: CatalogRepository
    events: CatalogEvents
    vault: VaultAdminClient
    providers: ProviderRegistry
    models: ModelCatalog
    addresses: AddressPolicy
    settings: CatalogSettings
    signing_key: SigningKey  # Ed25519: signs owner assertions for keyvault


Handler = Callable[[Ctx, MemberPrincipal, Any], Awaitable[Reply]]
