"""All MongoDB access of activity: idempotent writes (`_id` = event id), queries, dead letters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from activity import rollups

Doc = dict[str, Any]
_DUPLICATE = 11000
INTERRUPTED = "interrupted"


class ActivityRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_activity") -> None:
        db = client[db_name]
        self.requests: AsyncCollection[Doc] = db["requests"]
        self.audit: AsyncCollection[Doc] = db["audit"]
        self.dead_letters: AsyncCollection[Doc] = db["dead_letters"]
        self.requests_hourly: AsyncCollection[Doc] = db[rollups.COLLECTION]
        self._retention_days = 90

    async def ensure_indexes(self, retention_days: int) -> None:
        self._retention_days = retention_days
        await self.requests.create_index([("org_id", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("project_id", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("integration", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("model_requested", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("api_key_id", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("org_id", ASCENDING), ("status", ASCENDING), ("ts", DESCENDING)])
        await self.requests.create_index([("ts", ASCENDING)], expireAfterSeconds=retention_days * 86400, name="ttl_ts")
        await self.requests_hourly.create_index([("org_id", ASCENDING), ("hour", ASCENDING)])
        await self.requests_hourly.create_index(
            [("hour", ASCENDING)], expireAfterSeconds=(retention_days + 1) * 86400, name="ttl_hour"
        )
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
        if collection.name == "requests":
            await self._roll_up([doc], +1)
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
            duplicates = {err["index"] for err in errors if "index" in err}
            if collection.name == "requests":
                await self._roll_up([d for i, d in enumerate(docs) if i not in duplicates], +1)
            await self._supersede(collection, [docs[i] for i in sorted(duplicates)])
            return
        if collection.name == "requests":
            await self._roll_up(docs, +1)

    async def _supersede(self, collection: AsyncCollection[Doc], docs: list[Doc]) -> None:
        """A request's real record replaces a provisional `interrupted` one (written by a replay after
        a gateway crash), never the other way round: still one document per request."""
        for doc in docs:
            if doc.get("stream_outcome") not in (None, INTERRUPTED) and collection.name == "requests":
                old = await collection.find_one_and_replace({"_id": doc["_id"], "stream_outcome": INTERRUPTED}, doc)
                if old is not None:  # the request is now counted with its final outcome, once
                    await self._roll_up([old], -1)
                    await self._roll_up([doc], +1)

    async def _roll_up(self, docs: list[Doc], sign: int) -> None:
        """Add (or take back) these records in `requests_hourly`: one `$inc` upsert per hour bucket."""
        if not docs:
            return
        await self.requests_hourly.bulk_write(rollups.updates(docs, sign), ordered=False)

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
        """Newest first; the cursor is the (ts, _id) of the last item, opaque to callers.

        The store answers only from an index, and only for `org_id` [+ one equality field] + a `ts`
        range; it neither stops a sorted walk early nor narrows `$in` or extra fields. So the page
        walks back in time in disjoint, growing windows ([t-5min, t), then 10 min, 20 min, ...), each one an
        index range, filters the rest of the match here, and stops as soon as it holds limit+1
        documents (or reaches `since` / the retention horizon). Each record is read at most once."""
        indexed, rest = _split_match(match, _INDEXED_EQ.get(collection.name, ()))
        upper: datetime = datetime.now(UTC) + _FUTURE_SLACK
        lower: datetime = upper - timedelta(days=self._retention_days + 1)
        ts_match = match.get("ts") or {}
        if "$lt" in ts_match:
            upper = min(upper, rollups.aware(ts_match["$lt"]))
        if "$gte" in ts_match:
            lower = max(lower, rollups.aware(ts_match["$gte"]))
        after: tuple[datetime, str] | None = None
        inclusive_upper = False
        if cursor:
            after = _decode_cursor(cursor)
            after = (rollups.aware(after[0]), after[1])
            if after[0] < upper:
                upper, inclusive_upper = after[0], True
        found: list[Doc] = []
        span = _FIRST_WINDOW
        top = upper
        # the first window also takes in the slack ahead of this clock (usually empty)
        first_bottom = min(upper, datetime.now(UTC)) - span
        while top > lower and len(found) <= limit:
            bottom = max(lower, min(first_bottom, top - span))
            ts_range: Doc = {"$gte": bottom, "$lte" if inclusive_upper else "$lt": top}
            inclusive_upper = False
            window = [d async for d in collection.find({**indexed, "ts": ts_range})]
            found.extend(d for d in window if _matches(d, rest) and _before(d, after))
            top = bottom
            span *= 2
        found.sort(key=lambda d: (rollups.aware(d["ts"]), d["_id"]), reverse=True)
        more = len(found) > limit
        docs = found[:limit]
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


_FIRST_WINDOW = timedelta(minutes=5)
_FUTURE_SLACK = timedelta(days=1)  # records stamped slightly ahead of this clock are still listed
# fields that follow `org_id` in a (org_id, field, ts) index, in the order the page prefers them:
# the likely narrowest first (an error status is rare), a whole project last
_ERROR_STATUS = 400
_INDEXED_EQ: dict[str, tuple[str, ...]] = {
    "requests": ("status", "api_key_id", "integration", "model_requested", "project_id"),
    "audit": (),
}


def _split_match(match: Doc, indexed_fields: tuple[str, ...]) -> tuple[Doc, Doc]:
    """(what one (org_id, field, ts) index serves exactly, what is left to check per document)."""
    indexed: Doc = {"org_id": match["org_id"]}
    rest = {k: v for k, v in match.items() if k not in ("org_id", "ts")}
    for field in indexed_fields:
        value = rest.get(field)
        if field == "status" and isinstance(value, int) and value < _ERROR_STATUS:
            continue  # most records succeed: a success status narrows little, another field more
        if value is not None and not isinstance(value, dict):
            indexed[field] = rest.pop(field)
            break
    return indexed, rest


def _matches(doc: Doc, rest: Doc) -> bool:
    for field, want in rest.items():
        value = doc.get(field)
        if isinstance(want, dict):
            if "$in" in want and value not in want["$in"]:
                return False
        elif value != want:
            return False
    return True


def _before(doc: Doc, after: tuple[datetime, str] | None) -> bool:
    if after is None:
        return True
    ts = rollups.aware(doc["ts"])
    return ts < after[0] or (ts == after[0] and doc["_id"] < after[1])


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
