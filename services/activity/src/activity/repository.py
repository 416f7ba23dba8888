"""All MongoDB access of activity: idempotent writes (`_id` = event id), queries, dead letters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import msgspec
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

Doc = dict[str, Any]
_DUPLICATE = 11000
INTERRUPTED = "interrupted"


class ActivityRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_activity") -> None:
        db = client[db_name]
        self.requests: AsyncCollection[Doc] = db["requests"]
        self.audit: AsyncCollection[Doc] = db["audit"]
        self.dead_letters: AsyncCollection[Doc] = db["dead_letters"]

    async def ensure_indexes(self, retention_days: int) -> None:
        await self.requests.create_index([("org_id", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("project_id", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("integration", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("model_requested", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("api_key_id", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("ts", ASCENDING)], expireAfterSeconds=retention_days * 86400, name="ttl_ts")
        await self.audit.create_index([("org_id", ASCENDING), ("ts", DESCENDING)])
        await self.audit.create_index([("ts", ASCENDING)], expireAfterSeconds=retention_days * 4 * 86400, name="ttl_ts")
        await self.dead_letters.create_index([("ts", DESCENDING)])

    async def store(self, collection: AsyncCollection[Doc], doc: Doc) -> bool:
        """Insert once. Returns False when it was already stored (a redelivery): still a success."""
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            await self._supersede(collection, [doc])
            return False
        return True

    async def store_many(self, collection: AsyncCollection[Doc], docs: list[Doc]) -> None:
        if not docs:
            return
        try:
            await collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != _DUPLICATE for err in errors):
                raise
            await self._supersede(collection, [docs[err["index"]] for err in errors if "index" in err])

    async def _supersede(self, collection: AsyncCollection[Doc], docs: list[Doc]) -> None:
        """A request's real record replaces a provisional `interrupted` one (written by a replay after
        a gateway crash), never the other way round: still one document per request."""
        for doc in docs:
            if doc.get("stream_outcome") not in (None, INTERRUPTED) and collection.name == "requests":
                await collection.replace_one({"_id": doc["_id"], "stream_outcome": INTERRUPTED}, doc)

    async def dead_letter(self, *, subject: str, data: bytes, reason: str, deliveries: int, seq: int) -> None:
        await self.dead_letters.update_one(
            {"_id": f"seq-{seq}"},
            {
                "$setOnInsert": {
                    "ts": datetime.now(UTC),
                    "subject": subject,
                    "reason": reason[:500],
                    "deliveries": deliveries,
                    "data_b64": base64.b64encode(data[:65536]).decode(),
                }
            },
            upsert=True,
        )

    async def get(self, collection: AsyncCollection[Doc], match: Doc) -> Doc | None:
        return await collection.find_one(match)

    async def page(
        self, collection: AsyncCollection[Doc], match: Doc, cursor: str | None, limit: int
    ) -> tuple[list[Doc], str | None]:
        """Newest first; the cursor is the (ts, _id) of the last item, opaque to callers."""
        query = dict(match)
        if cursor:
            ts, last_id = _decode_cursor(cursor)
            query["$or"] = [{"ts": {"$lt": ts}}, {"ts": ts, "_id": {"$lt": last_id}}]
        docs = [
            d async for d in collection.find(query).sort([("ts", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1)
        ]
        more = len(docs) > limit
        docs = docs[:limit]
        return docs, (_encode_cursor(docs[-1]["ts"], docs[-1]["_id"]) if more and docs else None)

    async def aggregate(self, collection: AsyncCollection[Doc], pipeline: list[Doc]) -> list[Doc]:
        cursor = await collection.aggregate(pipeline)
        return [d async for d in cursor]


def _encode_cursor(ts: datetime, last_id: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([ts.isoformat(), last_id])).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    from shared.errors import KeyrelayError  # noqa: PLC0415

    try:
        ts_text, last_id = msgspec.json.decode(base64.urlsafe_b64decode(cursor.encode()))
        ts = datetime.fromisoformat(ts_text)
    except Exception:
        raise KeyrelayError("invalid_request", "invalid cursor", param="cursor") from None
    if not isinstance(last_id, str):
        raise KeyrelayError("invalid_request", "invalid cursor", param="cursor")
    return ts, last_id


def day_bounds(since: datetime | None, until: datetime | None) -> Doc:
    match: Doc = {}
    if since or until:
        match["ts"] = {}
        if since:
            match["ts"]["$gte"] = since
        if until:
            match["ts"]["$lt"] = until
    return match


__all__ = ["ActivityRepository", "day_bounds"]
