"""Catalog's client for keyvault's admin subjects (put, delete, scope, describe)."""

from __future__ import annotations

from typing import Any

from shared import subjects
from shared.bus import BusClient
from shared.messages import keyvault as kv


class VaultAdminClient:
    def __init__(self, bus: BusClient, keyvault_public_key: str, timeout_s: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout_s
        self.keyvault_public_key = keyvault_public_key

    async def put(self, *, assertion: bytes, org_id: str, integration_id: str, provider: str, base_url: str,
                  project_scope: str | list[str], sealed: bytes) -> kv.CredentialView:
        msg = kv.PutCredential(assertion=assertion, org_id=org_id, integration_id=integration_id, provider=provider,
                               base_url=base_url, project_scope=project_scope, sealed=sealed)  # type: ignore[arg-type]
        reply: kv.Stored = await self._bus.request(subjects.KEYVAULT_PUT, msg, kv.Stored, timeout_s=self._timeout,
                                                   dependency="keyvault")
        return reply.view

    async def delete(self, *, assertion: bytes, org_id: str, integration_id: str) -> None:
        await self._bus.request(subjects.KEYVAULT_DELETE, kv.DeleteCredential(
            assertion=assertion, org_id=org_id, integration_id=integration_id), kv.Done, timeout_s=self._timeout,
            dependency="keyvault")

    async def set_scope(self, *, assertion: bytes, org_id: str, integration_id: str, project_scope: str | list[str]) -> None:
        await self._bus.request(subjects.KEYVAULT_SCOPE, kv.SetScope(
            assertion=assertion, org_id=org_id, integration_id=integration_id, project_scope=project_scope),  # type: ignore[arg-type]
            kv.Done, timeout_s=self._timeout, dependency="keyvault")

    async def describe(self, *, org_id: str, integration_ids: list[str]) -> dict[str, dict[str, Any]]:
        reply: kv.Described = await self._bus.request(
            subjects.KEYVAULT_DESCRIBE, kv.DescribeCredentials(org_id=org_id, integration_ids=integration_ids),
            kv.Described, timeout_s=self._timeout, dependency="keyvault")
        return {k: {"masked": v.masked, "fingerprint": v.fingerprint, "updated_at": v.updated_at,
                    "updated_by": v.updated_by} for k, v in reply.credentials.items()}
