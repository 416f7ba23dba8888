"""All MongoDB access of keyvault: one record per integration, envelope fields only."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]


class CredentialRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_keyvault") -> None:
        self.credentials: AsyncCollection[Doc] = client[db_name]["credentials"]

    async def ensure_indexes(self) -> None:
        await self.credentials.create_index([("org_id", ASCENDING)])
        await self.credentials.create_index([("kek_id", ASCENDING)])

    async def get(self, integration_id: str) -> Doc | None:
        return await self.credentials.find_one({"_id": integration_id})

    async def upsert(self, doc: Doc) -> None:
        await self.credentials.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def delete(self, org_id: str, integration_id: str) -> bool:
        result = await self.credentials.delete_one({"_id": integration_id, "org_id": org_id})
        return result.deleted_count == 1

    async def set_scope(self, org_id: str, integration_id: str, scope: Any) -> bool:
        result = await self.credentials.update_one({"_id": integration_id, "org_id": org_id}, {"$set": {"project_scope": scope}})
        return result.matched_count == 1

    async def many(self, org_id: str, ids: list[str]) -> list[Doc]:
        return [d async for d in self.credentials.find({"org_id": org_id, "_id": {"$in": ids}})]

    async def not_on(self, kek_id: str, limit: int) -> list[Doc]:
        return [d async for d in self.credentials.find({"kek_id": {"$ne": kek_id}}).limit(limit)]

    async def count_not_on(self, kek_id: str) -> int:
        return await self.credentials.count_documents({"kek_id": {"$ne": kek_id}})

    async def compare_and_rewrap(self, integration_id: str, old_kek: str, version: int, kek_id: str, wrapped: bytes) -> bool:
        result = await self.credentials.update_one(
            {"_id": integration_id, "kek_id": old_kek, "version": version},
            {"$set": {"kek_id": kek_id, "wrapped_key": wrapped}},
        )
        return result.modified_count == 1
