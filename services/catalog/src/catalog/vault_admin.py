"""Catalog's client for keyvault's admin subjects (put, delete, scope, model hosts, describe).

Every write carries an owner assertion (`shared.vault.assertions.sign_assertion`) and the secret
sealed to keyvault (`shared.vault.seal_for_keyvault`); this client never sees a secret in clear.
"""

from __future__ import annotations

from typing import Any

from shared import subjects
from shared.bus import BusClient, Peer
from shared.messages import keyvault as kv
from shared.messages.base import ProjectScope


class VaultAdminClient:
    def __init__(self, bus: BusClient, timeout_s: float = 5.0) -> None:
        self._vault = Peer(bus, "keyvault", timeout_s)

    async def put(self, msg: kv.PutCredential) -> kv.CredentialView:
        """Create or replace the credential (keyvault decides which from whether it exists).

        `keep_secret` / `keep_headers`: an update keeps the stored key / header values, re-bound to
        `base_url` (keyvault decrypts and re-encrypts them itself; nobody else sees them)."""
        reply = await self._vault.ask(subjects.KEYVAULT_PUT, msg, kv.Stored)
        return reply.view

    async def delete(self, *, assertion: bytes, org_id: str, integration_id: str) -> None:
        msg = kv.DeleteCredential(assertion=assertion, org_id=org_id, integration_id=integration_id)
        await self._vault.ask(subjects.KEYVAULT_DELETE, msg, kv.Done)

    async def set_scope(
        self, *, assertion: bytes, org_id: str, integration_id: str, project_scope: ProjectScope
    ) -> None:
        msg = kv.SetScope(
            assertion=assertion, org_id=org_id, integration_id=integration_id, project_scope=project_scope
        )
        await self._vault.ask(subjects.KEYVAULT_SCOPE, msg, kv.Done)

    async def set_model_hosts(
        self, *, assertion: bytes, org_id: str, integration_id: str, base_urls: list[str]
    ) -> None:
        """Bind the key also to these custom-model hosts (the whole set, replacing the previous one)."""
        msg = kv.SetModelHosts(assertion=assertion, org_id=org_id, integration_id=integration_id, base_urls=base_urls)
        await self._vault.ask(subjects.KEYVAULT_HOSTS, msg, kv.Done)

    async def views(self, *, org_id: str, integration_ids: list[str]) -> dict[str, kv.CredentialView]:
        """Masked views (with header names, KEK id, version) of this org's credentials."""
        msg = kv.DescribeCredentials(org_id=org_id, integration_ids=integration_ids)
        reply = await self._vault.ask(subjects.KEYVAULT_DESCRIBE, msg, kv.Described)
        return reply.credentials

    async def describe(self, *, org_id: str, integration_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The contract's `credential` object per integration: masked, fingerprint, updated_at, updated_by."""
        found = await self.views(org_id=org_id, integration_ids=integration_ids)
        return {
            k: {
                "masked": v.masked,
                "fingerprint": v.fingerprint,
                "updated_at": v.updated_at,
                "updated_by": v.updated_by,
            }
            for k, v in found.items()
        }
