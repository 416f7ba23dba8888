"""All MongoDB access of catalog: the only module that knows collections, queries and indexes.

Commands and use cases see a `Store` (the protocol below) and its org-scoped `Records`; every
query that touches org data is filtered by `org_id`. Matches are field equalities; anything more
(a pushed config version, a custom model added once) is a named method here.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.errors import KeyrelayError

Doc = dict[str, Any]


def now() -> datetime:
    return datetime.now(UTC)


def already_exists(what: str, code: str = "conflict") -> KeyrelayError:
    return KeyrelayError(code, f"{what or 'object'} already exists")


class Records(Protocol):
    """One org-scoped collection (projects, members, API keys, integrations, virtual models, configs)."""

    async def get(self, org_id: str, **match: Any) -> Doc | None: ...
    async def list(self, org_id: str, **match: Any) -> list[Doc]: ...
    async def count(self, org_id: str, **match: Any) -> int: ...
    async def existing_ids(self, org_id: str, ids: Collection[str]) -> set[str]: ...
    async def insert(self, doc: Doc, *, what: str = "", conflict_code: str = "conflict") -> Doc: ...
    async def update(self, org_id: str, match: Doc, changes: Doc, *, what: str = "") -> Doc | None: ...
    async def delete(self, org_id: str, **match: Any) -> bool: ...


class Store(Protocol):
    """What catalog's use cases need from storage; `CatalogRepository` is the MongoDB one."""

    projects: Records
    members: Records
    api_keys: Records
    integrations: Records
    virtual_models: Records
    configs: Records

    # organisations
    async def org_named(self, name: str) -> Doc | None: ...
    async def create_org(self, org: Doc, project: Doc, owner: Doc) -> None: ...

    # identity lookups (by hash, not yet org-scoped: the hash is the credential)
    async def member_by_token_hash(self, token_hash: str) -> Doc | None: ...
    async def member_by_id(self, member_id: str) -> Doc | None: ...
    async def api_key_by_hash(self, key_hash: str) -> Doc | None: ...

    # routing snapshots
    async def routable_integrations(self, org_id: str, project_id: str) -> list[Doc]: ...
    async def configs_for(self, org_id: str, project_id: str) -> list[Doc]: ...
    async def virtual_models_for(self, org_id: str, project_id: str) -> list[Doc]: ...

    # writes with more than `$set`
    async def record_use(self, org_id: str, integration_id: str, changes: Doc, *, reactivate: bool) -> None: ...
    async def push_config_version(
        self, org_id: str, config_id: str, stored_project_id: str | None, version: Doc, project_id: str | None
    ) -> Doc | None: ...
    async def add_custom_model(self, org_id: str, integration_id: str, entry: Doc) -> bool: ...
    async def remove_custom_model(self, org_id: str, integration_id: str, slug: str) -> bool: ...

    # console passwords (`_id` = member id) and sessions (`_id` = SHA-256 of the session token)
    async def password_by_email(self, email: str) -> Doc | None: ...
    async def insert_password(self, doc: Doc) -> bool: ...
    async def update_password(self, member_id: str, changes: Doc) -> None: ...
    async def delete_password(self, member_id: str) -> None: ...
    async def insert_session(self, doc: Doc) -> None: ...
    async def session(self, session_hash: str) -> Doc | None: ...
    async def delete_session(self, session_hash: str) -> None: ...


class MongoRecords:
    def __init__(self, coll: AsyncCollection[Doc]) -> None:
        self._coll = coll

    async def get(self, org_id: str, **match: Any) -> Doc | None:
        return await self._coll.find_one({"org_id": org_id, **match})

    async def list(self, org_id: str, **match: Any) -> list[Doc]:
        cursor = self._coll.find({"org_id": org_id, **match}).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    async def count(self, org_id: str, **match: Any) -> int:
        return await self._coll.count_documents({"org_id": org_id, **match})

    async def existing_ids(self, org_id: str, ids: Collection[str]) -> set[str]:
        cursor = self._coll.find({"org_id": org_id, "_id": {"$in": list(ids)}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def insert(self, doc: Doc, *, what: str = "", conflict_code: str = "conflict") -> Doc:
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            raise already_exists(what, conflict_code) from None
        return doc

    async def update(self, org_id: str, match: Doc, changes: Doc, *, what: str = "") -> Doc | None:
        try:
            return await self._coll.find_one_and_update(
                {"org_id": org_id, **match},
                {"$set": {**changes, "updated_at": now()}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise already_exists(what) from None

    async def delete(self, org_id: str, **match: Any) -> bool:
        result = await self._coll.delete_one({"org_id": org_id, **match})
        return result.deleted_count == 1


# collection -> its indexes: (fields, unique); `console_sessions` also expires on `expires_at`
_INDEXES: dict[str, list[tuple[tuple[str, ...], bool]]] = {
    "members": [(("token_hash",), True), (("org_id", "email"), True)],
    "projects": [(("org_id", "name"), True)],
    "api_keys": [(("key_hash",), True), (("org_id", "project_id"), False)],
    "integrations": [(("org_id", "slug"), True), (("org_id", "status"), False)],
    "virtual_models": [(("org_id", "name"), True)],
    "configs": [(("org_id", "name"), True)],
    "console_passwords": [(("email",), True)],  # _id = member id
    "console_sessions": [(("member_id",), False)],  # _id = SHA-256 of the session token
}


class CatalogRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_catalog") -> None:
        self._db = client[db_name]
        self._orgs = self._db["orgs"]
        self._members = self._db["members"]
        self._api_keys = self._db["api_keys"]
        self._integrations = self._db["integrations"]
        self._configs = self._db["configs"]
        self._passwords = self._db["console_passwords"]
        self._sessions = self._db["console_sessions"]
        self.projects: Records = MongoRecords(self._db["projects"])
        self.members: Records = MongoRecords(self._members)
        self.api_keys: Records = MongoRecords(self._api_keys)
        self.integrations: Records = MongoRecords(self._integrations)
        self.virtual_models: Records = MongoRecords(self._db["virtual_models"])
        self.configs: Records = MongoRecords(self._configs)

    async def ensure_indexes(self) -> None:
        for name, indexes in _INDEXES.items():
            for fields, unique in indexes:
                keys = [(f, ASCENDING) for f in fields]
                await (self._db[name].create_index(keys, unique=True) if unique else self._db[name].create_index(keys))
        await self._sessions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl_expires")

    # --- organisations ---------------------------------------------------------------------------
    async def org_named(self, name: str) -> Doc | None:
        return await self._orgs.find_one({"name": name})

    async def create_org(self, org: Doc, project: Doc, owner: Doc) -> None:
        await self._orgs.insert_one(org)
        await self._db["projects"].insert_one(project)
        await self._members.insert_one(owner)

    # --- identity lookups ------------------------------------------------------------------------
    async def member_by_token_hash(self, token_hash: str) -> Doc | None:
        return await self._members.find_one({"token_hash": token_hash})

    async def member_by_id(self, member_id: str) -> Doc | None:
        return await self._members.find_one({"_id": member_id})

    async def api_key_by_hash(self, key_hash: str) -> Doc | None:
        return await self._api_keys.find_one({"key_hash": key_hash})

    # --- routing snapshots -----------------------------------------------------------------------
    async def routable_integrations(self, org_id: str, project_id: str) -> list[Doc]:
        cursor = self._integrations.find(
            {
                "org_id": org_id,
                "status": {"$in": ["active", "error"]},
                "$or": [{"project_scope": "all"}, {"project_scope": project_id}],
            }
        ).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    async def configs_for(self, org_id: str, project_id: str) -> list[Doc]:
        """Org-wide configs and the project's own (which shadow org-wide ones of the same name)."""
        cursor = self._configs.find({"org_id": org_id, "project_id": {"$in": [None, project_id]}})
        return sorted([doc async for doc in cursor], key=lambda d: d.get("project_id") is not None)

    async def virtual_models_for(self, org_id: str, project_id: str) -> list[Doc]:
        cursor = self._db["virtual_models"].find({"org_id": org_id, "project_id": {"$in": [None, project_id]}})
        return [doc async for doc in cursor]

    # --- writes with more than `$set` ------------------------------------------------------------
    async def record_use(self, org_id: str, integration_id: str, changes: Doc, *, reactivate: bool) -> None:
        """The gateway's report of a call: `changes` always; an `error` integration back to `active`."""
        match = {"_id": integration_id, "org_id": org_id}
        if reactivate:
            await self._integrations.update_one({**match, "status": "error"}, {"$set": {"status": "active"}})
        await self._integrations.update_one(match, {"$set": changes})

    async def push_config_version(
        self, org_id: str, config_id: str, stored_project_id: str | None, version: Doc, project_id: str | None
    ) -> Doc | None:
        """Add a version and point at it; matched on the project the write was authorised against."""
        return await self._configs.find_one_and_update(
            {"_id": config_id, "org_id": org_id, "project_id": stored_project_id},
            {
                "$push": {"versions": version},
                "$set": {"current_version": version["version"], "project_id": project_id, "updated_at": now()},
            },
            return_document=ReturnDocument.AFTER,
        )

    async def add_custom_model(self, org_id: str, integration_id: str, entry: Doc) -> bool:
        """False when the integration already has a custom model with this slug."""
        result = await self._integrations.update_one(
            {"_id": integration_id, "org_id": org_id, "custom_models.slug": {"$ne": entry["slug"]}},
            {"$push": {"custom_models": entry}},
        )
        return result.modified_count == 1

    async def remove_custom_model(self, org_id: str, integration_id: str, slug: str) -> bool:
        result = await self._integrations.update_one(
            {"_id": integration_id, "org_id": org_id}, {"$pull": {"custom_models": {"slug": slug}}}
        )
        return result.modified_count == 1

    # --- console passwords and sessions ----------------------------------------------------------
    async def password_by_email(self, email: str) -> Doc | None:
        return await self._passwords.find_one({"email": email})

    async def insert_password(self, doc: Doc) -> bool:
        """False when the member already has a password, or the email signs in elsewhere."""
        try:
            await self._passwords.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def update_password(self, member_id: str, changes: Doc) -> None:
        await self._passwords.update_one({"_id": member_id}, {"$set": changes})

    async def delete_password(self, member_id: str) -> None:
        await self._passwords.delete_one({"_id": member_id})

    async def insert_session(self, doc: Doc) -> None:
        await self._sessions.insert_one(doc)

    async def session(self, session_hash: str) -> Doc | None:
        return await self._sessions.find_one({"_id": session_hash})

    async def delete_session(self, session_hash: str) -> None:
        await self._sessions.delete_one({"_id": session_hash})
