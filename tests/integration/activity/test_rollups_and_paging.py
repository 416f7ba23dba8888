"""Roll-ups equal the records, and newest-first paging, against a real SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from activity import rollups
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository
from shared.messages import activity as a

Doc = dict[str, Any]
NOW = datetime.now(UTC).replace(microsecond=0)


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


async def raw_sums(
    repo: ActivityRepository, since: datetime | None = None, until: datetime | None = None
) -> dict[Any, Doc]:
    out: dict[Any, Doc] = {}
    async for doc in repo.requests.find({"org_id": "org_a"}):
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


async def test_roll_ups_equal_the_records_after_redelivered_and_duplicated_batches(repo: ActivityRepository) -> None:
    docs = [record(i) for i in range(300)]
    await repo.store_many(repo.requests, docs[:200])
    await repo.store_many(repo.requests, docs[150:300])  # a redelivery overlapping the first batch
    await repo.store_many(repo.requests, docs[:100])  # a whole batch delivered again
    for doc in docs[290:]:
        assert await repo.store(repo.requests, doc) is False  # message-by-message redelivery
    assert await repo.requests.count_documents({}) == 300
    assert_summary_matches(await summary(repo), await raw_sums(repo))


async def test_an_interrupted_record_replaced_by_its_final_record_is_counted_once_with_its_final_outcome(
    repo: ActivityRepository,
) -> None:
    await repo.store_many(repo.requests, [record(i) for i in range(20)])
    interrupted = record(100, status=499, latency_ms=5000.0, stream_outcome="interrupted", cost_usd=0.0)
    await repo.store_many(repo.requests, [interrupted])
    final = record(100, status=200, latency_ms=120.0, stream_outcome="complete", cost_usd=0.5)
    await repo.store_many(repo.requests, [final])
    await repo.store(repo.requests, final)  # its redelivery changes nothing
    await repo.store_many(repo.requests, [interrupted])  # nor does the late provisional one
    stored = await repo.requests.find_one({"_id": "req_000100"})
    assert stored is not None
    assert stored["stream_outcome"] == "complete"
    got, want = await summary(repo), await raw_sums(repo)
    assert_summary_matches(got, want)
    assert got["beta"]["requests"] == 7 + 1


async def test_a_summary_over_a_range_cut_inside_hours_equals_the_records_in_it(repo: ActivityRepository) -> None:
    await repo.store_many(repo.requests, [record(i) for i in range(400)])
    since, until = NOW - timedelta(hours=30, minutes=17), NOW - timedelta(hours=2, minutes=41)
    assert_summary_matches(await summary(repo, since=since, until=until), await raw_sums(repo, since, until))
    hour = NOW.replace(minute=0, second=0) - timedelta(hours=6)
    for since, until in (
        (hour + timedelta(minutes=50), hour + timedelta(hours=9, minutes=10)),  # short cuts: records added
        (hour + timedelta(minutes=5), hour + timedelta(hours=9, minutes=55)),  # long cuts: records taken back
        (hour + timedelta(minutes=10), hour + timedelta(minutes=30)),  # inside one hour, short
        (hour + timedelta(minutes=3), hour + timedelta(minutes=57)),  # inside one hour, long
        (hour, hour + timedelta(hours=3)),  # whole hours only
    ):
        assert_summary_matches(await summary(repo, since=since, until=until), await raw_sums(repo, since, until))


async def test_the_series_counts_every_record_once_per_integration_and_hour(repo: ActivityRepository) -> None:
    await repo.store_many(repo.requests, [record(i) for i in range(200)])
    since = NOW - timedelta(hours=12, minutes=30)
    query = a.SeriesRequests(scope=a.Scope(org_id="org_a", project_ids=["prj_1"]), bucket="hour", since=since)
    rows = msgspec.json.decode((await ActivityQueries(repo).run(query)).body)["data"]
    want: dict[tuple[str, str], int] = {}
    for i in range(200):
        doc = record(i)
        if doc["ts"] >= since and doc["project_id"] == "prj_1":
            key = (doc["integration"], doc["ts"].strftime("%Y-%m-%dT%H:00"))
            want[key] = want.get(key, 0) + 1
    assert {(r["integration"], r["bucket"]): r["requests"] for r in rows} == want


async def test_paging_newest_first_walks_every_record_exactly_once(repo: ActivityRepository) -> None:
    docs = [record(i) for i in range(700)]
    for i in range(0, 60, 3):  # ties: several records in the same second
        docs[i + 1]["ts"] = docs[i + 2]["ts"] = docs[i]["ts"]
    docs.append(record(900, org_id="org_b"))  # another org's record never shows
    await repo.store_many(repo.requests, docs)
    for match, expect in (
        ({"org_id": "org_a"}, [d for d in docs if d["org_id"] == "org_a"]),
        ({"org_id": "org_a", "project_id": {"$in": ["prj_2"]}}, [d for d in docs[:-1] if d["project_id"] == "prj_2"]),
        (
            {"org_id": "org_a", "status": 502, "integration": "alpha"},
            [d for d in docs[:-1] if d["status"] == 502 and d["integration"] == "alpha"],
        ),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            page, cursor = await repo.page(repo.requests, match, cursor, 50)
            seen.extend(d["_id"] for d in page)
            if cursor is None:
                break
        ordered = sorted(expect, key=lambda d: (d["ts"], d["_id"]), reverse=True)
        assert seen == [d["_id"] for d in ordered]
