"""Activity and audit reads for the management API, always limited to the caller's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from activity.repository import ActivityRepository, day_bounds
from shared.errors import KeyrelayError
from shared.messages import activity as a

Doc = dict[str, Any]
_GROUP_FIELDS = {
    "integration": "$integration",
    "model": "$model_requested",
    "project": "$project_id",
    "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$ts"}},
}

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

    async def run(self, query: a.ActivityQuery) -> a.QueryResult:
        if isinstance(query, a.GetRequestRecord):
            return await self.get(query)
        if isinstance(query, a.ListRequestRecords):
            return await self.list(query)
        if isinstance(query, a.SummarizeRequests):
            return await self.summary(query)
        if isinstance(query, a.SeriesRequests):
            return await self.series(query)
        return await self.audit(query)

    async def get(self, q: a.GetRequestRecord) -> a.QueryResult:
        doc = await self._repo.get(self._repo.requests, {"_id": q.request_id, **_scope_match(q.scope)})
        if doc is None:
            raise KeyrelayError("not_found", "no such request", param="request_id")
        return _result(_public(doc))

    async def list(self, q: a.ListRequestRecords) -> a.QueryResult:
        match = _scope_match(q.scope, q.project_id) | day_bounds(q.since, q.until)
        for field, value in (
            ("integration", q.integration),
            ("model_requested", q.model),
            ("api_key_id", q.api_key_id),
            ("status", q.status),
        ):
            if value is not None:
                match[field] = value
        docs, cursor = await self._repo.page(self._repo.requests, match, q.cursor, max(1, min(q.limit, 500)))
        return _result({"data": [_public(d) for d in docs], "next_cursor": cursor})

    async def summary(self, q: a.SummarizeRequests) -> a.QueryResult:
        match = _scope_match(q.scope) | day_bounds(q.since, q.until)
        pipeline: list[Doc] = [
            {"$match": match},
            {
                "$group": {
                    "_id": _GROUP_FIELDS[q.group_by],
                    "requests": {"$sum": 1},
                    "errors": {"$sum": {"$cond": [{"$gte": ["$status", 400]}, 1, 0]}},
                    "prompt_tokens": {"$sum": "$usage.prompt_tokens"},
                    "completion_tokens": {"$sum": "$usage.completion_tokens"},
                    "cached_tokens": {"$sum": "$usage.cached_tokens"},
                    "total_tokens": {"$sum": "$usage.total_tokens"},
                    "cost_usd": {"$sum": "$cost_usd"},
                    "list_cost_usd": {"$sum": "$list_cost_usd"},
                    "latencies": {"$push": "$latency_ms"},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        rows = []
        for row in await self._repo.aggregate(self._repo.requests, pipeline):
            latencies = sorted(x for x in row.pop("latencies") if isinstance(x, (int, float)))
            rows.append(
                {
                    "key": row.pop("_id"),
                    **row,
                    "cost_usd": round(row["cost_usd"], 10),
                    "list_cost_usd": round(row["list_cost_usd"], 10),
                    "p50_latency_ms": _percentile(latencies, 0.50),
                    "p95_latency_ms": _percentile(latencies, 0.95),
                }
            )
        return _result({"group_by": q.group_by, "data": rows})

    async def series(self, q: a.SeriesRequests) -> a.QueryResult:
        match = _scope_match(q.scope, q.project_id) | day_bounds(q.since, q.until)
        if q.integration is not None:
            match["integration"] = q.integration
        pipeline: list[Doc] = [
            {"$match": match},
            {
                "$group": {
                    "_id": {
                        "integration": "$integration",
                        "bucket": {"$dateToString": {"format": _BUCKETS[q.bucket], "date": "$ts"}},
                    },
                    "requests": {"$sum": 1},
                    "errors": {"$sum": {"$cond": [{"$gte": ["$status", 400]}, 1, 0]}},
                    "cost_usd": {"$sum": "$cost_usd"},
                    "latencies": {"$push": "$latency_ms"},
                }
            },
        ]
        rows = []
        for row in await self._repo.aggregate(self._repo.requests, pipeline):
            latencies = sorted(x for x in row.pop("latencies") if isinstance(x, (int, float)))
            key = row.pop("_id")
            rows.append(
                {
                    "integration": key.get("integration"),
                    "bucket": key.get("bucket"),
                    "requests": row["requests"],
                    "errors": row["errors"],
                    "cost_usd": round(row["cost_usd"], 10),
                    "p95_latency_ms": _percentile(latencies, 0.95),
                }
            )
        rows.sort(key=lambda r: (str(r["bucket"]), str(r["integration"])))
        return _result({"bucket": q.bucket, "data": rows})

    async def audit(self, q: a.ListAudit) -> a.QueryResult:
        docs, cursor = await self._repo.page(
            self._repo.audit, {"org_id": q.scope.org_id}, q.cursor, max(1, min(q.limit, 500))
        )
        out = []
        for doc in docs:
            item = _public(doc)
            item["event_id"] = item.pop("request_id")
            out.append(item)
        return _result({"data": out, "next_cursor": cursor})


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = max(0, min(len(values) - 1, round(q * (len(values) - 1))))
    return float(values[index])


def _result(body: Any) -> a.QueryResult:
    return a.QueryResult(body=msgspec.Raw(msgspec.json.encode(body)))
