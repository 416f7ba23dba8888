"""All MongoDB access of keyvault: database `keyrelay_keyvault`, collection `credentials`.

One record per integration (`_id` = integration id). It holds the envelope and non-secret
metadata only: the masked form, a keyed fingerprint, header names, who changed it and when.
Writes are compare-and-set on `version` (puts) and on `(envelope.kek_id, version)` (rotation),
so concurrent writers and a rotation running alongside never overwrite each other.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, Literal

import msgspec
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from keyvault.crypto import Envelope, Identity, MalformedEnvelope

Doc = dict[str, Any]
Scope = Literal["all"] | list[str]
_BUILTINS = (bytes, datetime)


class CredentialRecord(msgspec.Struct, frozen=True, kw_only=True):
    integration_id: str = msgspec.field(name="_id")
    org_id: str
    provider: str
    base_url: str
    project_scope: Scope = "all"
    envelope: Envelope
    masked: str
    fingerprint: str
    header_names: list[str] = []
    updated_at: datetime
    updated_by: str
    version: int

    @property
    def identity(self) -> Identity:
        return Identity(
            org_id=self.org_id,
            integration_id=self.integration_id,
            provider=self.provider,
            base_url=self.base_url,
            version=self.version,
        )


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

    async def set_scope(self, org_id: str, integration_id: str, scope: Scope) -> bool:
        result = await self.credentials.update_one(
            {"_id": integration_id, "org_id": org_id}, {"$set": {"project_scope": scope}}
        )
        return result.matched_count == 1

    async def many(self, org_id: str, ids: list[str]) -> list[CredentialRecord]:
        """This org's records among `ids`; a record that no longer parses is left out (reveal names it)."""
        found: list[CredentialRecord] = []
        async for doc in self.credentials.find({"org_id": org_id, "_id": {"$in": ids}}):
            with contextlib.suppress(MalformedEnvelope):
                found.append(_from_doc(doc))
        return found

    async def not_on(self, kek_id: str, limit: int, *, skip_ids: list[str] | None = None) -> list[CredentialRecord]:
        query: Doc = {"envelope.kek_id": {"$ne": kek_id}}
        if skip_ids:
            query["_id"] = {"$nin": skip_ids}
        return [_from_doc(d) async for d in self.credentials.find(query).sort("_id", ASCENDING).limit(limit)]

    async def count_not_on(self, kek_id: str) -> int:
        return await self.credentials.count_documents({"envelope.kek_id": {"$ne": kek_id}})

    async def compare_and_rewrap(self, record: CredentialRecord, new: Envelope) -> bool:
        """Swap in a re-wrapped key only if the record is still on the same KEK and version."""
        result = await self.credentials.update_one(
            {
                "_id": record.integration_id,
                "envelope.kek_id": record.envelope.kek_id,
                "version": record.version,
                "envelope.ciphertext": record.envelope.ciphertext,
            },
            {
                "$set": {
                    "envelope.kek_id": new.kek_id,
                    "envelope.wrap_nonce": new.wrap_nonce,
                    "envelope.wrapped_key": new.wrapped_key,
                }
            },
        )
        return result.modified_count == 1
