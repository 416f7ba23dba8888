"""Activity and audit reads for the management API, always limited to the caller's scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from activity import rollups
from activity.repository import ActivityRepository, day_bounds
from shared.errors import KeyrelayError
from shared.messages import activity as a

Doc = dict[str, Any]
Rows = list[Doc]
_ROLLUP_FIELDS = {"integration": "integration", "model": "model", "project": "project_id"}
_RECORD_TO_ROLLUP = {"model_requested": "model"}

_BUCKETS = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d"}


def _scope_match(scope: a.Scope, project_id: str | None = None) -> Doc:
    match: Doc = {"org_id": scope.org_id}
    if project_id is not None:
        if scope.project_ids is not None and project_id not in scope.project_ids:
            match["project_id"] = {"$in": []}
        else:
            match["project_id"] = project_id
    elif scope.project_ids is not None:
        match["project_id"] = {"$in": list(scope.project_ids)}
    return match


def _public(doc: Doc) -> Doc:
    out = dict(doc)
    out["request_id"] = out.pop("_id")
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


class ActivityQueries:
    def __init__(self, repo: ActivityRepository) -> None:
        self._repo = repo
        self._unwaited: set[asyncio.Task[Doc]] = set()  # charts left to finish after their page answered

    async def run(self, query: a.ActivityQuery) -> a.QueryResult:
        if isinstance(query, a.GetRequestRecord):
            return await self.get(query)
        if isinstance(query, a.ListRequestRecords):
            return await self.list(query)
        if isinstance(query, a.SummarizeRequests):
            return await self.summary(query)
        if isinstance(query, a.SeriesRequests):
            return await self.series(query)
        if isinstance(query, a.RequestsPage):
            return await self.page(query)
        return await self.audit(query)

    async def get(self, q: a.GetRequestRecord) -> a.QueryResult:
        doc = await self._repo.request({"_id": q.request_id, **_scope_match(q.scope)})
        if doc is None:
            raise KeyrelayError("not_found", "no such request", param="request_id")
        return _result(_public(doc))

    async def list(self, q: a.ListRequestRecords) -> a.QueryResult:
        return _result(await self._records(q))

    async def _records(self, q: a.ListRequestRecords) -> Doc:
        match = _scope_match(q.scope, q.project_id) | day_bounds(q.since, q.until)
        for field, value in (
            ("integration", q.integration),
            ("model_requested", q.model),
            ("api_key_id", q.api_key_id),
            ("status", q.status),
        ):
            if value is not None:
                match[field] = value
        docs, cursor = await self._repo.page_requests(match, q.cursor, max(1, min(q.limit, 500)))
        return {"data": [_public(d) for d in docs], "next_cursor": cursor}

    async def summary(self, q: a.SummarizeRequests) -> a.QueryResult:
        rows = await self._hourly(_scope_match(q.scope), q.since, q.until)
        groups: dict[Any, _Sums] = {}
        for row in rows:
            groups.setdefault(_summary_key(row, q.group_by), _Sums()).add(row)
        data = []
        for key in sorted(groups, key=lambda k: (k is not None, str(k))):
            sums = groups[key]
            if sums.empty:
                continue  # only records outside the range, taken back out of a cut hour
            data.append(
                {
                    "key": key,
                    **sums.totals(),
                    **{name: int(sums.values.get(name, 0)) for name in rollups.TOKENS},
                    "p50_latency_ms": rollups.percentile(sums.latency, 0.50),
                    "p95_latency_ms": rollups.percentile(sums.latency, 0.95),
                }
            )
        return _result({"group_by": q.group_by, "data": data})

    async def series(self, q: a.SeriesRequests) -> a.QueryResult:
        return _result(await self._series(q))

    async def _series(self, q: a.SeriesRequests) -> Doc:
        match = _scope_match(q.scope, q.project_id)
        if q.integration is not None:
            match["integration"] = q.integration
        rows = await self._hourly(match, q.since, q.until)
        groups: dict[tuple[Any, str], _Sums] = {}
        for row in rows:
            groups.setdefault((row.get("integration"), row["hour"].strftime(_BUCKETS[q.bucket])), _Sums()).add(row)
        data = [
            {
                "integration": integration,
                "bucket": bucket,
                **sums.totals(),
                "p95_latency_ms": rollups.percentile(sums.latency, 0.95),
            }
            for (integration, bucket), sums in groups.items()
            if not sums.empty
        ]
        data.sort(key=lambda r: (str(r["bucket"]), str(r["integration"])))
        return {"bucket": q.bucket, "data": data}

    async def page(self, q: a.RequestsPage) -> a.QueryResult:
        """The list and the series side by side (one answer: see `RequestsPage`)."""
        deadline = asyncio.get_running_loop().time() + q.charts_within_s
        series = asyncio.create_task(self._series(q.series))
        body: Doc = {"records": None, "records_error": None, "series": None}
        try:
            body["records"] = await self._records(q.records)
        except KeyrelayError as exc:
            if exc.code != "invalid_request":
                raise
            body["records_error"] = {"code": exc.code, "message": exc.message}  # e.g. a stale cursor
        finally:
            if body["records"] is None and body["records_error"] is None:
                series.cancel()  # the page failed: nobody wants its charts
        done, _ = await asyncio.wait({series}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        if series in done:
            body["series"] = series.result()
        else:
            self._leave(series)  # the hours it computes are cached: a reload gets its charts
        return _result(body)

    def _leave(self, task: asyncio.Task[Doc]) -> None:
        """Let a read finish on its own: nobody waits for its answer any more (what it computes is cached)."""
        self._unwaited.add(task)
        task.add_done_callback(_forgotten)
        task.add_done_callback(self._unwaited.discard)

    async def _hourly(self, match: Doc, since: datetime | None, until: datetime | None) -> Rows:
        """Roll-up rows for exactly [since, until): whole hours from the repository's exact hourly
        roll-ups; an hour cut by `since` or `until` is either its records inside the range, or its
        roll-up less its records outside the range, whichever part is shorter (an index range each)."""
        org_id = match["org_id"]
        since = rollups.aware(since) if since is not None else None
        until = rollups.aware(until) if until is not None else None
        if since is not None and until is not None and since >= until:
            return []
        start, end, add, take_back = _plan(since, until, datetime.now(UTC))
        reads = [self._repo.hourly_rows(org_id, start, end)] if start is None or end is None or start < end else []
        reads += [self._edge(org_id, span, 1) for span in add]
        reads += [self._edge(org_id, span, -1) for span in take_back]
        parts = await asyncio.gather(*reads)
        return [row for rows in parts for row in rows if _row_matches(row, match)]

    async def _edge(self, org_id: str, span: Span, sign: int) -> Rows:
        low, high = span
        records = await self._repo.records(org_id, low, high)
        hour = rollups.hour_of(low)
        return [row | {"org_id": org_id, "hour": hour} for row in rollups.rows_of(records, sign)]

    async def audit(self, q: a.ListAudit) -> a.QueryResult:
        docs, cursor = await self._repo.page_audit(q.scope.org_id, q.cursor, max(1, min(q.limit, 500)))
        out = []
        for doc in docs:
            item = _public(doc)
            item["event_id"] = item.pop("request_id")
            out.append(item)
        return _result({"data": out, "next_cursor": cursor})


class _Sums:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.latency: dict[int, int] = {}

    def add(self, row: Doc) -> None:
        for name in ("requests", "errors", "cost_usd", "list_cost_usd", *rollups.TOKENS):
            self.values[name] = self.values.get(name, 0) + (row.get(name) or 0)
        for bucket, count in (row.get("latency") or {}).items():
            self.latency[int(bucket)] = self.latency.get(int(bucket), 0) + int(count)

    @property
    def empty(self) -> bool:
        """No request in range (rows outside it can leave a group at zero)."""
        return self.values.get("requests", 0) <= 0

    def totals(self) -> Doc:
        """The request, error and cost figures every summary and series row carries."""
        return {
            "requests": int(self.values.get("requests", 0)),
            "errors": int(self.values.get("errors", 0)),
            "cost_usd": round(self.values.get("cost_usd", 0.0), 10),
            "list_cost_usd": round(self.values.get("list_cost_usd", 0.0), 10),
        }


def _summary_key(row: Doc, group_by: str) -> Any:
    if group_by == "day":
        return row["hour"].strftime("%Y-%m-%d")
    return row.get(_ROLLUP_FIELDS[group_by])


def _row_matches(row: Doc, match: Doc) -> bool:
    for field, want in match.items():
        value = row.get(_RECORD_TO_ROLLUP.get(field, field))
        if isinstance(want, dict):
            if value not in want.get("$in", []):
                return False
        elif value != want:
            return False
    return True


_HOUR = timedelta(hours=1)
Span = tuple[datetime, datetime]


def _plan(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime | None, datetime | None, list[Span], list[Span]]:
    """(first roll-up hour, end of roll-up hours, record ranges to add, record ranges to take back).
    An hour cut by `since` or `until` is read as the part with fewer records expected: the shorter
    one, counting no records after `now` (so an hour cut by `until` = now takes back an empty range)."""
    add: list[Span] = []
    take_back: list[Span] = []
    if since is not None and until is not None and rollups.hour_of(since) == rollups.hour_of(until):
        hour = rollups.hour_of(since)
        outside = [span for span in ((hour, since), (until, hour + _HOUR)) if span[0] < span[1]]
        if _expected((since, until), now) <= sum((_expected(span, now) for span in outside), timedelta(0)):
            return hour, hour, [(since, until)], []
        return hour, hour + _HOUR, [], outside
    start = end = None
    if since is not None:
        start = rollups.hour_of(since)
        if since != start and _expected((since, start + _HOUR), now) <= _expected((start, since), now):
            add.append((since, start + _HOUR))
            start += _HOUR
        elif since != start:
            take_back.append((start, since))
    if until is not None:
        end = rollups.hour_of(until)
        if until != end and _expected((end, until), now) <= _expected((until, end + _HOUR), now):
            add.append((end, until))
        elif until != end:
            take_back.append((until, end + _HOUR))
            end += _HOUR
    return start, end, add, take_back


def _expected(span: Span, now: datetime) -> timedelta:
    """How much of this range can hold records (none are expected after `now`)."""
    low, high = span
    return max(timedelta(0), min(high, now) - low)


def _forgotten(task: asyncio.Task[Doc]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a failed read that nobody waited for is not reported as unhandled


def _result(body: Any) -> a.QueryResult:
    return a.QueryResult(body=msgspec.Raw(msgspec.json.encode(body)))
