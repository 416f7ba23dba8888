"""Roll-ups equal the records, and newest-first paging, against a real SecantusDB."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from activity.queries import ActivityQueries
from activity.repository import ActivityRepository
from shared.messages import activity as a
from tests.integration.activity.records import (
    NOW,
    REQUEST,
    Raw,
    assert_exact,
    assert_summary_matches,
    raw_sums,
    record,
    summary,
)


async def test_roll_ups_equal_the_records_after_redelivered_and_duplicated_batches(
    repo: ActivityRepository, raw: Raw
) -> None:
    docs = [record(i) for i in range(300)]
    await repo.store(REQUEST, docs[:200])
    await repo.store(REQUEST, docs[150:300])  # a redelivery overlapping the first batch
    await repo.store(REQUEST, docs[:100])  # a whole batch delivered again
    for doc in docs[290:]:
        await repo.store(REQUEST, [doc])  # message-by-message redelivery
    assert await raw["requests"].count_documents({}) == 300
    await assert_exact(repo, raw)


async def test_an_interrupted_record_replaced_by_its_final_record_is_counted_once_with_its_final_outcome(
    repo: ActivityRepository, raw: Raw
) -> None:
    await repo.store(REQUEST, [record(i) for i in range(20)])
    interrupted = record(100, status=499, latency_ms=5000.0, stream_outcome="interrupted", cost_usd=0.0)
    await repo.store(REQUEST, [interrupted])
    final = record(100, status=200, latency_ms=120.0, stream_outcome="complete", cost_usd=0.5)
    await repo.store(REQUEST, [final])
    await repo.store(REQUEST, [final])  # its redelivery changes nothing
    await repo.store(REQUEST, [interrupted])  # nor does the late provisional one
    stored = await repo.request({"_id": "req_000100"})
    assert stored is not None
    assert stored["stream_outcome"] == "complete"
    got, want = await summary(repo), await raw_sums(raw)
    assert_summary_matches(got, want)
    assert got["beta"]["requests"] == 7 + 1


async def test_a_summary_over_a_range_cut_inside_hours_equals_the_records_in_it(
    repo: ActivityRepository, raw: Raw
) -> None:
    await repo.store(REQUEST, [record(i) for i in range(400)])
    since, until = NOW - timedelta(hours=30, minutes=17), NOW - timedelta(hours=2, minutes=41)
    await assert_exact(repo, raw, since=since, until=until)
    hour = NOW.replace(minute=0, second=0) - timedelta(hours=6)
    for since, until in (
        (hour + timedelta(minutes=50), hour + timedelta(hours=9, minutes=10)),  # short cuts: records added
        (hour + timedelta(minutes=5), hour + timedelta(hours=9, minutes=55)),  # long cuts: records taken back
        (hour + timedelta(minutes=10), hour + timedelta(minutes=30)),  # inside one hour, short
        (hour + timedelta(minutes=3), hour + timedelta(minutes=57)),  # inside one hour, long
        (hour, hour + timedelta(hours=3)),  # whole hours only
    ):
        await assert_exact(repo, raw, since=since, until=until)


async def test_the_series_counts_every_record_once_per_integration_and_hour(repo: ActivityRepository, raw: Raw) -> None:
    await repo.store(REQUEST, [record(i) for i in range(200)])
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


async def test_paging_newest_first_walks_every_record_exactly_once(repo: ActivityRepository, raw: Raw) -> None:
    docs = [record(i) for i in range(700)]
    for i in range(0, 60, 3):  # ties: several records in the same second
        docs[i + 1]["ts"] = docs[i + 2]["ts"] = docs[i]["ts"]
    docs.append(record(900, org_id="org_b"))  # another org's record never shows
    await repo.store(REQUEST, docs)
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
            page, cursor = await repo.page_requests(match, cursor, 50)
            seen.extend(d["_id"] for d in page)
            if cursor is None:
                break
        ordered = sorted(expect, key=lambda d: (d["ts"], d["_id"]), reverse=True)
        assert seen == [d["_id"] for d in ordered]
