"""An in-memory `catalog.repository.Store`, and keyvault and event sinks that keep what they get,
so catalog's commands run here exactly as they do against MongoDB and NATS, without either.

The store keeps MongoDB's unique indexes (`CatalogRepository.ensure_indexes`) so conflicts behave
the same; the repository itself is tested against a real SecantusDB (`test_repository.py`)."""

from __future__ import annotations

import copy
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from nacl.signing import VerifyKey

from catalog.events import CatalogEvents
from catalog.repository import Doc, Records, already_exists, now
from catalog.vault_admin import VaultAdminClient
from shared.errors import KeyrelayError
from shared.messages import keyvault as kv
from shared.messages.catalog import MemberPrincipal
from shared.vault.assertions import kept_parts, verify_assertion, write_digest


def _matches(doc: Doc, match: dict[str, Any]) -> bool:
    return all(doc.get(key) == value for key, value in match.items())


class MemoryRecords:
    def __init__(self, *unique: tuple[str, ...]) -> None:
        self.docs: dict[str, Doc] = {}
        self._unique = unique

    def _check_unique(self, doc: Doc, what: str, code: str) -> None:
        for fields in self._unique:
            key = [doc.get(f) for f in fields]
            if any(o["_id"] != doc["_id"] and [o.get(f) for f in fields] == key for o in self.docs.values()):
                raise already_exists(what, code)

    def find(self, org_id: str, match: dict[str, Any]) -> list[Doc]:
        return [d for d in self.docs.values() if d.get("org_id") == org_id and _matches(d, match)]

    async def get(self, org_id: str, **match: Any) -> Doc | None:
        found = self.find(org_id, match)
        return copy.deepcopy(found[0]) if found else None

    async def list(self, org_id: str, **match: Any) -> list[Doc]:
        return copy.deepcopy(sorted(self.find(org_id, match), key=lambda d: d["created_at"]))

    async def count(self, org_id: str, **match: Any) -> int:
        return len(self.find(org_id, match))

    async def existing_ids(self, org_id: str, ids: Collection[str]) -> set[str]:
        return {d["_id"] for d in self.find(org_id, {}) if d["_id"] in ids}

    async def insert(self, doc: Doc, *, what: str = "", conflict_code: str = "conflict") -> Doc:
        if doc["_id"] in self.docs:
            raise already_exists(what, conflict_code)
        self._check_unique(doc, what, conflict_code)
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return doc

    async def update(self, org_id: str, match: Doc, changes: Doc, *, what: str = "") -> Doc | None:
        found = self.find(org_id, match)
        if not found:
            return None
        doc = {**found[0], **copy.deepcopy(changes), "updated_at": now()}
        self._check_unique(doc, what, "conflict")
        self.docs[doc["_id"]] = doc
        return copy.deepcopy(doc)

    async def delete(self, org_id: str, **match: Any) -> bool:
        found = self.find(org_id, match)
        if found:
            del self.docs[found[0]["_id"]]
        return bool(found)


class MemoryStore:
    def __init__(self) -> None:
        self.orgs: dict[str, Doc] = {}
        self.passwords: dict[str, Doc] = {}
        self.sessions: dict[str, Doc] = {}
        self.project_records = MemoryRecords(("org_id", "name"))
        self.member_records = MemoryRecords(("token_hash",), ("org_id", "email"))
        self.api_key_records = MemoryRecords(("key_hash",))
        self.integration_records = MemoryRecords(("org_id", "slug"))
        self.virtual_model_records = MemoryRecords(("org_id", "name"))
        self.config_records = MemoryRecords(("org_id", "name"))
        self.projects: Records = self.project_records
        self.members: Records = self.member_records
        self.api_keys: Records = self.api_key_records
        self.integrations: Records = self.integration_records
        self.virtual_models: Records = self.virtual_model_records
        self.configs: Records = self.config_records

    async def org_named(self, name: str) -> Doc | None:
        return next((o for o in self.orgs.values() if o["name"] == name), None)

    async def create_org(self, org: Doc, project: Doc, owner: Doc) -> None:
        self.orgs[org["_id"]] = org
        await self.projects.insert(project)
        await self.members.insert(owner)

    def _by(self, records: MemoryRecords, **match: Any) -> Doc | None:
        return next((copy.deepcopy(d) for d in records.docs.values() if _matches(d, match)), None)

    async def member_by_token_hash(self, token_hash: str) -> Doc | None:
        return self._by(self.member_records, token_hash=token_hash)

    async def member_by_id(self, member_id: str) -> Doc | None:
        return self._by(self.member_records, _id=member_id)

    async def api_key_by_hash(self, key_hash: str) -> Doc | None:
        return self._by(self.api_key_records, key_hash=key_hash)

    async def routable_integrations(self, org_id: str, project_id: str) -> list[Doc]:
        docs = await self.integrations.list(org_id)
        return [
            d
            for d in docs
            if d["status"] in {"active", "error"} and (d["project_scope"] == "all" or project_id in d["project_scope"])
        ]

    async def configs_for(self, org_id: str, project_id: str) -> list[Doc]:
        docs = [d for d in await self.configs.list(org_id) if d.get("project_id") in (None, project_id)]
        return sorted(docs, key=lambda d: d.get("project_id") is not None)

    async def virtual_models_for(self, org_id: str, project_id: str) -> list[Doc]:
        return [d for d in await self.virtual_models.list(org_id) if d.get("project_id") in (None, project_id)]

    async def record_use(self, org_id: str, integration_id: str, changes: Doc, *, reactivate: bool) -> None:
        doc = await self.integrations.get(org_id, _id=integration_id)
        if doc is not None:
            status = "active" if reactivate and doc["status"] == "error" else doc["status"]
            self.integration_records.docs[integration_id] = {**doc, "status": status, **changes}

    async def push_config_version(
        self, org_id: str, config_id: str, stored_project_id: str | None, version: Doc, project_id: str | None
    ) -> Doc | None:
        doc = await self.configs.get(org_id, _id=config_id, project_id=stored_project_id)
        if doc is None:
            return None
        doc["versions"].append(version)
        doc |= {"current_version": version["version"], "project_id": project_id, "updated_at": now()}
        self.config_records.docs[config_id] = doc
        return copy.deepcopy(doc)

    async def add_custom_model(self, org_id: str, integration_id: str, entry: Doc) -> bool:
        doc = await self.integrations.get(org_id, _id=integration_id)
        if doc is None or any(c["slug"] == entry["slug"] for c in doc["custom_models"]):
            return False
        doc["custom_models"].append(entry)
        self.integration_records.docs[integration_id] = doc
        return True

    async def remove_custom_model(self, org_id: str, integration_id: str, slug: str) -> bool:
        doc = await self.integrations.get(org_id, _id=integration_id)
        if doc is None or not any(c["slug"] == slug for c in doc["custom_models"]):
            return False
        doc["custom_models"] = [c for c in doc["custom_models"] if c["slug"] != slug]
        self.integration_records.docs[integration_id] = doc
        return True

    async def password_by_email(self, email: str) -> Doc | None:
        return next((copy.deepcopy(p) for p in self.passwords.values() if p["email"] == email), None)

    async def insert_password(self, doc: Doc) -> bool:
        if doc["_id"] in self.passwords or await self.password_by_email(doc["email"]) is not None:
            return False
        self.passwords[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def update_password(self, member_id: str, changes: Doc) -> None:
        if member_id in self.passwords:
            self.passwords[member_id] |= changes

    async def delete_password(self, member_id: str) -> None:
        self.passwords.pop(member_id, None)

    async def insert_session(self, doc: Doc) -> None:
        self.sessions[doc["_id"]] = copy.deepcopy(doc)

    async def session(self, session_hash: str) -> Doc | None:
        return copy.deepcopy(self.sessions.get(session_hash))

    async def delete_session(self, session_hash: str) -> None:
        self.sessions.pop(session_hash, None)


class RecordingEvents(CatalogEvents):
    """Keeps the change events and audit events catalog would send."""

    def __init__(self) -> None:  # no bus: nothing is sent
        self.changes: list[tuple[str, str, tuple[str, ...]]] = []
        self.audits: list[dict[str, Any]] = []

    async def changed(self, org_id: str, kind: str, *ids: str) -> None:
        self.changes.append((org_id, kind, ids))

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
    ) -> None:
        self.audits.append(
            {"actor": actor, "org_id": org_id, "action": action, "target": (target_type, target_id), "outcome": outcome}
            | ({"detail": detail} if detail else {})
        )

    @property
    def actions(self) -> list[str]:
        return [a["action"] for a in self.audits]


class MemoryVault(VaultAdminClient):
    """Keyvault's admin side in memory: checks each owner assertion as keyvault does (signature,
    operation, integration, digest of exactly this write) and keeps the sealed blobs it was given."""

    def __init__(self, catalog_key: VerifyKey) -> None:  # no bus: nothing is sent
        self._catalog_key = catalog_key
        self.stored: dict[str, dict[str, Any]] = {}
        self.refuse_puts = False

    def _verify(self, assertion: bytes, operation: str, integration_id: str, digest: str) -> None:
        claims = verify_assertion(self._catalog_key, assertion)
        assert (claims.operation, claims.integration_id, claims.digest) == (operation, integration_id, digest)
        assert claims.org_role == "owner"

    async def put(self, msg: kv.PutCredential) -> kv.CredentialView:
        integration_id, keep_secret = msg.integration_id, msg.keep_secret
        operation = "update" if integration_id in self.stored else "create"
        keep = kept_parts(keep_secret=keep_secret, keep_headers=msg.keep_headers)
        digest = write_digest(
            operation,
            provider=msg.provider,
            base_url=msg.base_url,
            project_scope=msg.project_scope,
            sealed=msg.sealed,
            keep=keep,
        )
        self._verify(msg.assertion, operation, integration_id, digest)
        if self.refuse_puts:
            raise KeyrelayError("invalid_credentials", "keyvault refused the credential")
        view = kv.CredentialView(
            masked="sk-...1234", fingerprint="fp", updated_at=datetime.now(UTC).isoformat(), updated_by="mem"
        )
        self.stored[integration_id] = {
            "org_id": msg.org_id,
            "base_url": msg.base_url,
            "project_scope": msg.project_scope,
            "model_base_urls": self.stored.get(integration_id, {}).get("model_base_urls", []),
            "sealed": msg.sealed if msg.sealed or not keep_secret else self.stored[integration_id]["sealed"],
            "view": view,
        }
        return view

    async def delete(self, *, assertion: bytes, org_id: str, integration_id: str) -> None:
        self._verify(assertion, "delete", integration_id, write_digest("delete"))
        self.stored.pop(integration_id, None)

    async def set_scope(self, *, assertion: bytes, org_id: str, integration_id: str, project_scope: kv.Scope) -> None:
        self._verify(assertion, "scope", integration_id, write_digest("scope", project_scope=project_scope))
        self.stored[integration_id]["project_scope"] = project_scope

    async def set_model_hosts(
        self, *, assertion: bytes, org_id: str, integration_id: str, base_urls: list[str]
    ) -> None:
        self._verify(assertion, "hosts", integration_id, write_digest("hosts", base_urls=base_urls))
        self.stored[integration_id]["model_base_urls"] = base_urls

    async def views(self, *, org_id: str, integration_ids: list[str]) -> dict[str, kv.CredentialView]:
        return {i: self.stored[i]["view"] for i in integration_ids if self.stored.get(i, {}).get("org_id") == org_id}
