"""All MongoDB access of keyvault: database `keyrelay_keyvault`, collection `credentials`.

One record per integration (`_id` = integration id). It holds the envelope and non-secret
metadata only: the masked form, a keyed fingerprint, header names, who changed it and when.
Writes are compare-and-set on `version` (puts) and on `(version, envelope)` (scope changes and
rotation, which re-wrap), so concurrent writers and a rotation running alongside never overwrite
each other. Nothing read from here is trusted as is: every field keyvault decides on is bound into
the envelope (`keyvault.crypto`) and the version is checked against its floor (`keyvault.floors`).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import msgspec
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from keyvault.crypto import Envelope, Identity, MalformedEnvelope, Scope, Sealer

Doc = dict[str, Any]
_BUILTINS = (bytes, datetime)


class CredentialRecord(msgspec.Struct, frozen=True, kw_only=True):
    integration_id: str = msgspec.field(name="_id")
    org_id: str
    provider: str
    base_url: str
    project_scope: Scope = "all"
    model_base_urls: list[str] = []
    envelope: Envelope
    masked: str
    fingerprint: str
    header_names: list[str] = []
    updated_at: datetime
    updated_by: str
    version: int

    @classmethod
    def sealed_as(
        cls, ident: Identity, *, envelope: Envelope, masked: str, header_names: list[str], updated_by: str
    ) -> CredentialRecord:
        """A fresh record of `ident`, its envelope sealed to exactly that identity."""
        return cls(
            **msgspec.structs.asdict(ident),
            envelope=envelope,
            masked=masked,
            header_names=header_names,
            updated_at=datetime.now(UTC),
            updated_by=updated_by,
        )

    @property
    def identity(self) -> Identity:
        """What this record's envelope must be bound to: its own fields of the same names."""
        return msgspec.convert(self, Identity, from_attributes=True)

    def rebound(
        self,
        sealer: Sealer,
        *,
        version: int,
        project_scope: Scope | None = None,
        model_base_urls: list[str] | None = None,
        updated_by: str = "",
    ) -> CredentialRecord:
        """This record at `version` (optionally another scope or other model hosts), its data key
        re-wrapped under the primary KEK.

        Raises the named `VaultCryptoError` if this record does not authenticate as it is.
        """
        scope = self.project_scope if project_scope is None else project_scope
        hosts = self.model_base_urls if model_base_urls is None else model_base_urls
        new_ident = msgspec.structs.replace(self.identity, project_scope=scope, model_base_urls=hosts, version=version)
        return msgspec.structs.replace(
            self,
            project_scope=scope,
            model_base_urls=hosts,
            version=version,
            envelope=sealer.rewrap(self.envelope, self.identity, new_ident),
            updated_at=datetime.now(UTC) if updated_by else self.updated_at,
            updated_by=updated_by or self.updated_by,
        )


class Unreadable(msgspec.Struct, frozen=True, kw_only=True):
    """A stored document that does not parse as a record: named by its id, never used."""

    raw_id: Any

    @property
    def integration_id(self) -> str:
        return str(self.raw_id)[:128]


def _to_doc(record: CredentialRecord) -> Doc:
    doc: Doc = msgspec.to_builtins(record, builtin_types=_BUILTINS)
    return doc


def _from_doc(doc: Doc) -> CredentialRecord:
    try:
        return msgspec.convert(doc, CredentialRecord, builtin_types=_BUILTINS)
    except msgspec.ValidationError:
        raise MalformedEnvelope("stored credential record does not match the schema") from None


class CredentialRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_keyvault") -> None:
        self.credentials: AsyncCollection[Doc] = client[db_name]["credentials"]

    async def ensure_indexes(self) -> None:
        await self.credentials.create_index([("org_id", ASCENDING)])
        await self.credentials.create_index([("envelope.kek_id", ASCENDING)])

    async def get(self, integration_id: str) -> CredentialRecord | None:
        doc = await self.credentials.find_one({"_id": integration_id})
        return None if doc is None else _from_doc(doc)

    async def insert(self, record: CredentialRecord) -> bool:
        """Create; False if a record with this id already exists."""
        try:
            await self.credentials.insert_one(_to_doc(record))
        except DuplicateKeyError:
            return False
        return True

    async def replace(self, record: CredentialRecord, *, expected_version: int) -> bool:
        """Update; False if the record changed (or vanished) since `expected_version` was read."""
        result = await self.credentials.replace_one(
            {"_id": record.integration_id, "org_id": record.org_id, "version": expected_version}, _to_doc(record)
        )
        return result.matched_count == 1

    async def delete(self, org_id: str, integration_id: str) -> bool:
        result = await self.credentials.delete_one({"_id": integration_id, "org_id": org_id})
        return result.deleted_count == 1

    async def many(self, org_id: str, ids: list[str]) -> list[CredentialRecord]:
        """This org's records among `ids`; a record that no longer parses is left out (reveal names it)."""
        found: list[CredentialRecord] = []
        async for doc in self.credentials.find({"org_id": org_id, "_id": {"$in": ids}}):
            with contextlib.suppress(MalformedEnvelope):
                found.append(_from_doc(doc))
        return found

    async def not_on(
        self, kek_id: str, limit: int, *, skip_ids: list[Any] | None = None
    ) -> list[CredentialRecord | Unreadable]:
        """Records not on `kek_id`, in id order; a document that does not parse comes back as `Unreadable`."""
        query: Doc = {"envelope.kek_id": {"$ne": kek_id}}
        if skip_ids:
            query["_id"] = {"$nin": skip_ids}
        found: list[CredentialRecord | Unreadable] = []
        async for doc in self.credentials.find(query).sort("_id", ASCENDING).limit(limit):
            try:
                found.append(_from_doc(doc))
            except MalformedEnvelope:
                found.append(Unreadable(raw_id=doc.get("_id")))
        return found

    async def count_not_on(self, kek_id: str) -> int:
        return await self.credentials.count_documents({"envelope.kek_id": {"$ne": kek_id}})

    async def swap(self, old: CredentialRecord, new: CredentialRecord) -> bool:
        """Replace `old` by its re-wrapped successor only if it is still exactly the same version and envelope."""
        result = await self.credentials.replace_one(
            {
                "_id": old.integration_id,
                "org_id": old.org_id,
                "version": old.version,
                "envelope.kek_id": old.envelope.kek_id,
                "envelope.wrapped_key": old.envelope.wrapped_key,
                "envelope.ciphertext": old.envelope.ciphertext,
            },
            _to_doc(new),
        )
        return result.matched_count == 1
