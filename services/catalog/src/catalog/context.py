"""What every command handler gets: repository, events, keyvault admin client, catalog data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from catalog.events import CatalogEvents
from catalog.repository import CatalogRepository
from catalog.settings import CatalogSettings
from shared.messages.catalog import MemberPrincipal


@dataclass(slots=True)
class Reply:
    status: int
    body: Any


@dataclass(slots=True)
class Ctx:
    repo: CatalogRepository
    events: CatalogEvents
    vault: Any  # shared.vault.admin.VaultAdminClient
    providers: Any  # catalog.providers registry
    models: Any  # catalog.providers model catalog
    addresses: Any  # shared.netpolicy.AddressPolicy
    settings: CatalogSettings
    signing_key: Any  # Ed25519 signing key for owner assertions


Handler = Callable[[Ctx, MemberPrincipal, Any], Awaitable[Reply]]
