"""All MongoDB access of activity: idempotent writes (`_id` = event id), the hourly roll-up cache,
newest-first pages, dead letters."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure

from activity import rollups

Doc = dict[str, Any]
_DUPLICATE = 11000
_INDEX_NOT_FOUND = 27
INTERRUPTED = "interrupted"
_HOUR = timedelta(hours=1)
_MARKED = "stored-hours-marked"  # in `requests_hourly`: every hour with records has its generation
_JOB_PENDING = ("queued", "running")
_JOB_ENDED = ("succeeded", "failed")
_RECORD_PROJECTION = dict.fromkeys(rollups.RECORD_FIELDS, 1)
_ERROR_STATUS = 400


def _org_ts_index(*fields: str, **options: Any) -> IndexModel:
    """An (org_id, fields..., ts descending) index, named as MongoDB names it (older versions
    created these unnamed: the names stay, so an existing store keeps them)."""
    keys = [("org_id", ASCENDING), *((field, ASCENDING) for field in fields), ("ts", DESCENDING)]
    default_name = "_".join(f"{field}_{direction}" for field, direction in keys)
    return IndexModel(keys, name=options.pop("name", default_name), **options)


# The secondary indexes of `requests`, one per query shape its readers use: the embedded store serves
# a query from an index only when the index is exactly (org_id, its equality fields..., ts), so a
# compound index's prefix serves no other shape there. Every record writes an entry in each (the
# embedded store spends about 0.16 ms of CPU per record per index), so there is none more:
# `(org_id, ts)` serves the roll-ups and unfiltered pages, the others one filter each of
# `GET /activity` and the console; `status` only for errors (a partial index: a success status
# narrows a page too little to be asked of it, see `_split_match`), which also serves an error
# status with an integration. `tests/integration/activity/test_request_indexes.py` checks the plans.
REQUEST_INDEXES: tuple[IndexModel, ...] = (
    _org_ts_index(),
    _org_ts_index("project_id"),
    _org_ts_index("integration"),
    _org_ts_index("model_requested"),
    _org_ts_index("api_key_id"),
    _org_ts_index(
        "status",
        name="errors_org_id_1_status_1_ts_-1",
        partialFilterExpression={"status": {"$gte": _ERROR_STATUS}},
    ),
)
# Indexes of `requests` that earlier versions created and this one no longer wants: dropped (by
# name, only these) when indexes are ensured, so an existing store converges to `REQUEST_INDEXES`.
RETIRED_REQUEST_INDEXES = ("org_id_1_status_1_ts_-1", "org_id_1_status_1_integration_1_ts_-1")


def _stand_in_of(doc: Doc) -> Doc | None:
    """Which stored record a final one replaces: a stream's `interrupted` stand-in, or the record
    of a media job answered as a handle (queued/running) once the job ended."""
    if doc.get("stream_outcome") not in (None, INTERRUPTED):
        return {"stream_outcome": INTERRUPTED}
    if doc.get("job_status") in _JOB_ENDED:
        return {"job_status": {"$in": list(_JOB_PENDING)}}
    return None


class RecordKind(StrEnum):
    """What an event becomes in the store."""

    REQUEST = "requests"
    AUDIT = "audit"


class ActivityRepository:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str = "keyrelay_activity") -> None:
        db = client[db_name]
        self._requests: AsyncCollection[Doc] = db["requests"]
        self._audit: AsyncCollection[Doc] = db["audit"]
        self._dead_letters: AsyncCollection[Doc] = db["dead_letters"]
        self._hourly: AsyncCollection[Doc] = db[rollups.COLLECTION]
        self._retention_days = 90

    async def ensure_indexes(self, retention_days: int) -> None:
        self._retention_days = retention_days
        existing = {index["name"] async for index in await self._requests.list_indexes()}
        for name in RETIRED_REQUEST_INDEXES:
            if name in existing:
                try:
                    await self._requests.drop_index(name)
                except OperationFailure as exc:  # another replica starting at once dropped it first
                    if exc.code != _INDEX_NOT_FOUND:
                        raise
        await self._requests.create_indexes(list(REQUEST_INDEXES))
        await self._requests.create_index([("ts", ASCENDING)], expireAfterSeconds=retention_days * 86400, name="ttl_ts")
        await self._hourly.create_index([("org_id", ASCENDING), ("hour", ASCENDING)])
        await self._hourly.create_index(
            [("hour", ASCENDING)], expireAfterSeconds=(retention_days + 1) * 86400, name="ttl_hour"
        )
        await self._audit.create_index([("org_id", ASCENDING), ("ts", DESCENDING)])
        await self._audit.create_index(
            [("ts", ASCENDING)], expireAfterSeconds=retention_days * 4 * 86400, name="ttl_ts"
        )
        await self._dead_letters.create_index([("ts", DESCENDING)])
        await self._mark_stored_hours()

    async def _mark_stored_hours(self) -> None:
        """Once per store: give every hour that already holds records (written before hours were
        marked, e.g. by an older version) its generation, so readers count them. Safe to repeat
        after a crash: bumping a generation again only makes a cached roll-up be recomputed."""
        if await self._hourly.find_one({"_id": _MARKED}) is not None:
            return
        seen: set[tuple[str, datetime]] = set()
        async for doc in self._requests.find({}, {"org_id": 1, "ts": 1}):
            seen.add((doc["org_id"], rollups.hour_of(doc["ts"])))
        hours = sorted(seen)
        for start in range(0, len(hours), 1000):
            await self._bump([{"org_id": org, "ts": hour} for org, hour in hours[start : start + 1000]])
        await self._hourly.update_one({"_id": _MARKED}, {"$set": {"at": datetime.now(UTC)}}, upsert=True)

    # --- writes -------------------------------------------------------------------------------------
    async def store(self, kind: RecordKind, docs: list[Doc]) -> None:
        """Store these events' documents; safe to repeat (a redelivery) after a failure at any point."""
        async for _ in self.writes(kind, docs):
            pass

    async def writes(self, kind: RecordKind, docs: list[Doc]) -> AsyncGenerator[str]:
        """The writes that store these documents, in order, each announced once done: a crash between
        any two leaves the store so that repeating all of them (a redelivery) makes it exact.

        Requests: 1. insert each record once (a duplicate `_id` is a redelivery); 2. a final record
        replaces its stand-in (a stream's `interrupted` one, a media job's queued/running one);
        3. only then bump the generation of every (org, hour)
        these records (and the replaced stand-ins) fall in, which makes any roll-up cached for that
        hour stale. The event is acknowledged after the last write."""
        if not docs:
            return
        if kind is RecordKind.AUDIT:
            await _insert_once(self._audit, docs)
            yield "insert"
            return
        duplicates = await _insert_once(self._requests, docs)
        yield "insert"
        replaced: list[Doc] = []
        for doc in duplicates:
            stand_in = _stand_in_of(doc)
            if stand_in is not None:
                old = await self._requests.find_one_and_replace({"_id": doc["_id"], **stand_in}, doc)
                if old is not None:
                    replaced.append(old)
                yield "supersede"
        await self._bump([*docs, *replaced])
        yield "bump"

    async def _bump(self, docs: list[Doc]) -> None:
        """Bump the generation of every (org, hour) of `docs`. Almost always each of them has one
        already: then one multi-document update bumps them all (the embedded store commits each
        statement of a bulk write on its own, so upserts cost a transaction per org and hour of the
        batch); only when some hour is new are they all upserted (an hour bumped twice is harmless:
        its cached roll-up is recomputed once more)."""
        hours = {(doc["org_id"], rollups.hour_of(doc["ts"])) for doc in docs}
        ids = [rollups.hour_id(org_id, hour) for org_id, hour in hours]
        existing = await self._hourly.update_many({"_id": {"$in": ids}}, {"$inc": {"gen": 1}})
        if existing.matched_count >= len(ids):
            return
        updates = [
            UpdateOne(
                {"_id": rollups.hour_id(org_id, hour)},
                {"$inc": {"gen": 1}, "$setOnInsert": {"org_id": org_id, "hour": hour}},
                upsert=True,
            )
            for org_id, hour in sorted(hours)
        ]
        try:
            await self._hourly.bulk_write(updates, ordered=False)
        except BulkWriteError as exc:  # two upserts of a new hour at once: the loser's is repeated
            if any(err.get("code") != _DUPLICATE for err in exc.details.get("writeErrors", [])):
                raise
            await self._hourly.bulk_write(updates, ordered=False)

    async def dead_letter(self, *, subject: str, data: bytes, reason: str, deliveries: int, key: str) -> None:
        """Keep an event that cannot be stored, under `key` (`seq-{stream seq}`, and `.{index}` for
        one event of a batched message): writing it again changes nothing."""
        await self._dead_letters.update_one(
            {"_id": key},
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

    # --- hourly roll-ups ----------------------------------------------------------------------------
    async def hourly_rows(self, org_id: str, start: datetime | None, end: datetime | None) -> list[Doc]:
        """Exact roll-up rows (each with its `hour`) of the org's whole hours in [start, end)."""
        marks = await self.hour_marks(org_id, start, end)
        per_hour = await asyncio.gather(*(self.rows_of_hour(mark) for mark in marks))
        return [row for rows in per_hour for row in rows]

    async def hour_marks(self, org_id: str, start: datetime | None, end: datetime | None) -> list[Doc]:
        """The org's hours in [start, end) that have records: each with its generation and, maybe, a
        cached roll-up. An hour without one has no records (as far as acknowledged events go)."""
        window: Doc = {}
        if start is not None:
            window["$gte"] = start
        if end is not None:
            window["$lt"] = end
        query: Doc = {"org_id": org_id} | ({"hour": window} if window else {})
        return [d async for d in self._hourly.find(query)]

    async def rows_of_hour(self, mark: Doc) -> list[Doc]:
        """The hour's rows: its cached roll-up if computed at the generation `mark` holds, else computed
        from its records now and cached with that generation, unless it moved on meanwhile. `mark` was
        read before the records, so a record written after it bumps the generation past the cached one."""
        hour = rollups.aware(mark["hour"])
        cached = mark.get("rollup") or {}
        if cached.get("gen") == mark["gen"]:
            rows: list[Doc] = cached["rows"]
        else:
            rows = rollups.rows_of(await self.records(mark["org_id"], hour, hour + _HOUR))
            await self._hourly.update_one(
                {"_id": mark["_id"], "gen": mark["gen"]}, {"$set": {"rollup": {"gen": mark["gen"], "rows": rows}}}
            )
        return [row | {"org_id": mark["org_id"], "hour": hour} for row in rows]

    async def records(self, org_id: str, low: datetime, high: datetime) -> list[Doc]:
        """The org's records in [low, high), only the fields a roll-up needs (one index range)."""
        cursor = self._requests.find({"org_id": org_id, "ts": {"$gte": low, "$lt": high}}, _RECORD_PROJECTION)
        return [d async for d in cursor]

    # --- reads --------------------------------------------------------------------------------------
    async def request(self, match: Doc) -> Doc | None:
        return await self._requests.find_one(match)

    async def page_requests(self, match: Doc, cursor: str | None, limit: int) -> tuple[list[Doc], str | None]:
        return await self._page(self._requests, _REQUEST_INDEXED_EQ, match, cursor, limit)

    async def page_audit(self, org_id: str, cursor: str | None, limit: int) -> tuple[list[Doc], str | None]:
        return await self._page(self._audit, (), {"org_id": org_id}, cursor, limit)

    async def _page(
        self,
        collection: AsyncCollection[Doc],
        indexes: tuple[tuple[str, ...], ...],
        match: Doc,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Doc], str | None]:
        """Newest first; the cursor is the (ts, _id) of the last item, opaque to callers.

        The store answers only from an index, and only for `org_id` [+ one equality field] + a `ts`
        range; it neither stops a sorted walk early nor narrows `$in` or extra fields. So the page
        walks back in time in disjoint, growing windows ([t-5min, t), then 10 min, 20 min, ...), each one an
        index range, filters the rest of the match here, and stops as soon as it holds limit+1
        documents (or reaches `since` / the retention horizon). Each record is read at most once; the
        windows grow faster where records are sparse (see `_next_span`)."""
        indexed, rest = _split_match(match, indexes)
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
            before = len(found)
            found.extend(d for d in window if _matches(d, rest) and _before(d, after))
            top = bottom
            span = _next_span(span, len(found) - before, limit + 1 - len(found))
        found.sort(key=lambda d: (rollups.aware(d["ts"]), d["_id"]), reverse=True)
        more = len(found) > limit
        docs = found[:limit]
        return docs, (_encode_cursor(docs[-1]["ts"], docs[-1]["_id"]) if more and docs else None)


_WRITE_CONFLICT = 112
_TRANSIENT_LABELS = ("TransientTransactionError", "RetryableWriteError")


def transient(exc: BaseException) -> bool:
    """Whether a failed write is worth retrying as is, however often: the database could not be
    reached, or the write lost a race with a concurrent one (a `WriteConflict`, which MongoDB
    retries inside the server but a MongoDB-compatible store may hand back). Only other failures
    count towards dead-lettering."""
    if isinstance(exc, ConnectionFailure):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") in (_WRITE_CONFLICT, _DUPLICATE) for e in errors)
    if isinstance(exc, OperationFailure):
        return exc.code == _WRITE_CONFLICT or any(exc.has_error_label(label) for label in _TRANSIENT_LABELS)
    return False


async def _insert_once(collection: AsyncCollection[Doc], docs: list[Doc]) -> list[Doc]:
    """Insert each document unless its `_id` is already stored; returns those that were."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != _DUPLICATE for err in errors):
            raise
        return [docs[i] for i in sorted({err["index"] for err in errors})]
    return []


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
# the equality fields that follow `org_id` in the requests' (org_id, ..., ts) indexes, in the order a
# page prefers them: the likely narrowest first (an error status is rare), a whole project last
_REQUEST_INDEXED_EQ: tuple[tuple[str, ...], ...] = (
    ("status",),
    ("api_key_id",),
    ("integration",),
    ("model_requested",),
    ("project_id",),
)


def _next_span(span: timedelta, got: int, missing: int) -> timedelta:
    """The next window: as long as this one's density says the missing records need (a quarter
    more, between half and 16 times this one), or 16 times as long after an empty one (sparse
    records: audit events, rare errors)."""
    if got <= 0:
        return span * 16
    return span * max(0.5, min(16.0, 1.25 * missing / got))


def _split_match(match: Doc, indexes: tuple[tuple[str, ...], ...]) -> tuple[Doc, Doc]:
    """(what one (org_id, fields..., ts) index serves exactly, what is left to check per document):
    the first index whose every field the match names by a plain value."""
    rest = {k: v for k, v in match.items() if k not in ("org_id", "ts")}
    for fields in indexes:
        values = [rest.get(field) for field in fields]
        if any(value is None or isinstance(value, dict) for value in values):
            continue
        status = rest.get("status") if "status" in fields else None
        if isinstance(status, int) and status < _ERROR_STATUS:
            continue  # most records succeed: a success status narrows little, another field more
        return {"org_id": match["org_id"], **{field: rest.pop(field) for field in fields}}, rest
    return {"org_id": match["org_id"]}, rest


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


__all__ = ["ActivityRepository", "RecordKind", "day_bounds", "transient"]
