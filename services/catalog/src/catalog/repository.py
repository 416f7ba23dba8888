"""All MongoDB access of catalog. Every query that touches org data is filtered by `org_id`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.errors import KeyrelayError

Doc = dict[str, Any]


def now() -> datetime:
    return datetime.now(UTC)


class CatalogRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_catalog") -> None:
        db = client[db_name]
        self.orgs: AsyncCollection[Doc] = db["orgs"]
        self.members: AsyncCollection[Doc] = db["members"]
        self.projects: AsyncCollection[Doc] = db["projects"]
        self.api_keys: AsyncCollection[Doc] = db["api_keys"]
        self.integrations: AsyncCollection[Doc] = db["integrations"]
        self.virtual_models: AsyncCollection[Doc] = db["virtual_models"]
        self.configs: AsyncCollection[Doc] = db["configs"]
        self.passwords: AsyncCollection[Doc] = db["console_passwords"]  # _id = member id
        self.sessions: AsyncCollection[Doc] = db["console_sessions"]  # _id = SHA-256 of the session token

    async def ensure_indexes(self) -> None:
        await self.members.create_index([("token_hash", ASCENDING)], unique=True)
        await self.members.create_index([("org_id", ASCENDING), ("email", ASCENDING)], unique=True)
        await self.projects.create_index([("org_id", ASCENDING), ("name", ASCENDING)], unique=True)
        await self.api_keys.create_index([("key_hash", ASCENDING)], unique=True)
        await self.api_keys.create_index([("org_id", ASCENDING), ("project_id", ASCENDING)])
        await self.integrations.create_index([("org_id", ASCENDING), ("slug", ASCENDING)], unique=True)
        await self.integrations.create_index([("org_id", ASCENDING), ("status", ASCENDING)])
        await self.virtual_models.create_index([("org_id", ASCENDING), ("name", ASCENDING)], unique=True)
        await self.configs.create_index([("org_id", ASCENDING), ("name", ASCENDING)], unique=True)
        await self.passwords.create_index([("email", ASCENDING)], unique=True)
        await self.sessions.create_index([("member_id", ASCENDING)])
        await self.sessions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl_expires")

    # --- generic, org-scoped -------------------------------------------------------------------
    @staticmethod
    async def insert(coll: AsyncCollection[Doc], doc: Doc, *, conflict_code: str = "conflict", what: str = "") -> Doc:
        try:
            await coll.insert_one(doc)
        except DuplicateKeyError:
            raise KeyrelayError(conflict_code, f"{what or 'object'} already exists") from None
        return doc

    @staticmethod
    async def get(coll: AsyncCollection[Doc], org_id: str, **match: Any) -> Doc | None:
        return await coll.find_one({"org_id": org_id, **match})

    @staticmethod
    async def find_all(coll: AsyncCollection[Doc], org_id: str, **match: Any) -> list[Doc]:
        cursor = coll.find({"org_id": org_id, **match}).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    @staticmethod
    async def update(
        coll: AsyncCollection[Doc], org_id: str, match: Doc, changes: Doc, *, what: str = ""
    ) -> Doc | None:
        try:
            return await coll.find_one_and_update(
                {"org_id": org_id, **match},
                {"$set": {**changes, "updated_at": now()}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise KeyrelayError("conflict", f"{what or 'object'} already exists") from None

    @staticmethod
    async def delete(coll: AsyncCollection[Doc], org_id: str, **match: Any) -> bool:
        result = await coll.delete_one({"org_id": org_id, **match})
        return result.deleted_count == 1

    # --- identity lookups (by hash, not yet org-scoped: the hash is the credential) -------------
    async def member_by_token_hash(self, token_hash: str) -> Doc | None:
        return await self.members.find_one({"token_hash": token_hash})

    async def api_key_by_hash(self, key_hash: str) -> Doc | None:
        return await self.api_keys.find_one({"key_hash": key_hash})

    async def routable_integrations(self, org_id: str, project_id: str) -> list[Doc]:
        cursor = self.integrations.find(
            {
                "org_id": org_id,
                "status": {"$in": ["active", "error"]},
                "$or": [{"project_scope": "all"}, {"project_scope": project_id}],
            }
        ).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    async def configs_for(self, org_id: str, project_id: str) -> list[Doc]:
        """Org-wide configs and the project's own (which shadow org-wide ones of the same name)."""
        cursor = self.configs.find({"org_id": org_id, "project_id": {"$in": [None, project_id]}})
        return sorted([doc async for doc in cursor], key=lambda d: d.get("project_id") is not None)

    async def virtual_models_for(self, org_id: str, project_id: str) -> list[Doc]:
        cursor = self.virtual_models.find({"org_id": org_id, "project_id": {"$in": [None, project_id]}})
        return [doc async for doc in cursor]
