"""Request records for the activity store's tests, and the summary they must add up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from pymongo.asynchronous.database import AsyncDatabase

from activity import rollups
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository, RecordKind
from shared.messages import activity as a

Doc = dict[str, Any]
Raw = AsyncDatabase[Doc]
NOW = datetime.now(UTC).replace(microsecond=0)
REQUEST = RecordKind.REQUEST


def record(i: int, **over: Any) -> Doc:
    doc: Doc = {
        "_id": f"req_{i:06d}",
        "ts": NOW - timedelta(minutes=7 * i),
        "org_id": "org_a",
        "project_id": ("prj_1", "prj_2")[i % 2],
        "api_key_id": "key_1",
        "integration": ("alpha", "beta", "gamma")[i % 3],
        "model_requested": "gpt-4o-mini",
        "status": 502 if i % 11 == 0 else 200,
        "latency_ms": 40.0 + (i * 37) % 900,
        "usage": {
            "prompt_tokens": i % 50,
            "completion_tokens": 2 * (i % 30),
            "cached_tokens": i % 3,
            "total_tokens": 0,
        },
        "cost_usd": 0.001 * (i % 7),
        "stream_outcome": None,
    }
    doc["usage"]["total_tokens"] = doc["usage"]["prompt_tokens"] + doc["usage"]["completion_tokens"]
    doc.update(over)
    return doc


async def summary(repo: ActivityRepository, group_by: str = "integration", **kw: Any) -> dict[Any, Doc]:
    query = a.SummarizeRequests(scope=a.Scope(org_id="org_a"), group_by=group_by, **kw)  # type: ignore[arg-type]
    body = msgspec.json.decode((await ActivityQueries(repo).run(query)).body)
    return {row["key"]: row for row in body["data"]}


async def raw_sums(raw: Raw, since: datetime | None = None, until: datetime | None = None) -> dict[Any, Doc]:
    """The summary computed from the stored records themselves."""
    out: dict[Any, Doc] = {}
    async for doc in raw["requests"].find({"org_id": "org_a"}):
        ts = rollups.aware(doc["ts"])
        if (since and ts < since) or (until and ts >= until):
            continue
        row = out.setdefault(doc["integration"], {"requests": 0, "errors": 0, "cost_usd": 0.0, "latencies": []})
        row["requests"] += 1
        row["errors"] += int(doc["status"] >= 400)
        row["cost_usd"] += doc["cost_usd"]
        row["latencies"].append(doc["latency_ms"])
        for name in rollups.TOKENS:
            row[name] = row.get(name, 0) + doc["usage"][name]
    return out


def assert_summary_matches(got: dict[Any, Doc], want: dict[Any, Doc]) -> None:
    assert set(got) == set(want)
    for key, row in want.items():
        for name in ("requests", "errors", *rollups.TOKENS):
            assert got[key][name] == row[name], (key, name)
        assert abs(got[key]["cost_usd"] - row["cost_usd"]) < 1e-9
        latencies = sorted(row["latencies"])
        exact = latencies[round(0.95 * (len(latencies) - 1))]
        bound = got[key]["p95_latency_ms"]
        assert bound == rollups.LATENCY_BOUNDS_MS[rollups.latency_bucket(exact)]  # the exact p95's bucket bound


async def assert_exact(repo: ActivityRepository, raw: Raw, **kw: Any) -> None:
    """Summaries by integration and by day equal the records, for every range given."""
    assert_summary_matches(await summary(repo, **kw), await raw_sums(raw, kw.get("since"), kw.get("until")))
