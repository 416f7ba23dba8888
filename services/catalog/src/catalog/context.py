"""What every command handler gets: storage, events, keyvault's admin client, catalog data.

Storage is named by the protocol the commands use (`catalog.repository.Store`), so a command runs
the same against MongoDB (`CatalogRepository`) and against any other store (the unit tests' in-memory one).
"""

from __future__ import annotations

from dataclasses import dataclass

from nacl.signing import SigningKey

from catalog.events import CatalogEvents
from catalog.providers import ModelCatalog, ProviderRegistry
from catalog.repository import Store
from catalog.settings import CatalogSettings
from catalog.vault_admin import VaultAdminClient
from shared.netpolicy import AddressPolicy


@dataclass(slots=True)
class Ctx:
    repo: Store
    events: CatalogEvents
    vault: VaultAdminClient
    providers: ProviderRegistry
    models: ModelCatalog
    addresses: AddressPolicy
    settings: CatalogSettings
    signing_key: SigningKey  # Ed25519: signs owner assertions and project membership for keyvault
