"""The console's one-read activity page (`RequestsPage`) answers exactly what the list and the series
queries answer on their own, against a real SecantusDB."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec

from activity import rollups
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository
from shared.messages import activity as a
from tests.integration.activity.records import NOW, REQUEST, Raw, record

SCOPE = a.Scope(org_id="org_a", project_ids=["prj_1", "prj_2"])


def _queries(**records: Any) -> tuple[a.ListRequestRecords, a.SeriesRequests]:
    since = NOW - timedelta(hours=24)
    return (
        a.ListRequestRecords(scope=SCOPE, project_id="prj_1", since=since, until=NOW, limit=50, **records),
        a.SeriesRequests(scope=SCOPE, project_id="prj_1", bucket="hour", since=rollups.hour_of(since), until=NOW),
    )


async def _body(queries: ActivityQueries, query: a.ActivityQuery) -> Any:
    return msgspec.json.decode((await queries.run(query)).body)


async def test_the_page_query_answers_the_same_records_and_series_as_the_two_queries(repo: ActivityRepository) -> None:
    await repo.store(REQUEST, [record(i) for i in range(400)])
    queries = ActivityQueries(repo)
    for filters in ({}, {"integration": "alpha", "status": 502}):
        records, series = _queries(**filters)
        page = await _body(queries, a.RequestsPage(records=records, series=series))
        assert page["records"] == await _body(queries, records)
        assert page["series"] == await _body(queries, series)
        assert page["records_error"] is None
        assert page["records"]["data"]


async def test_a_stale_cursor_is_named_and_the_page_still_gets_its_charts(repo: ActivityRepository) -> None:
    await repo.store(REQUEST, [record(i) for i in range(60)])
    records, series = _queries(cursor="not-a-cursor")
    page = await _body(ActivityQueries(repo), a.RequestsPage(records=records, series=series))
    assert page["records"] is None
    assert page["records_error"] == {"code": "invalid_request", "message": "invalid cursor"}
    assert sum(row["requests"] for row in page["series"]["data"]) > 0


async def test_charts_slower_than_the_page_allows_are_left_out_and_cached_for_the_next_read(
    repo: ActivityRepository, raw: Raw
) -> None:
    await repo.store(REQUEST, [record(i) for i in range(300)])
    queries = ActivityQueries(repo)
    records, series = _queries()
    page = await _body(queries, a.RequestsPage(records=records, series=series, charts_within_s=0.0))
    assert page["series"] is None
    assert len(page["records"]["data"]) == 50
    # the whole hours: the hour that `until` cuts is read from its records or from its roll-up,
    # whichever part is shorter, and that depends on the clock (NOW is set when the module loads)
    assert series.until is not None
    charted = {"org_id": "org_a", "hour": {"$gte": series.since, "$lt": rollups.hour_of(series.until)}}
    for _ in range(
        600
    ):  # the charts' read goes on without the page: it caches each hour it charts (30 s on a busy CI box)
        marks = [d async for d in raw[rollups.COLLECTION].find(charted)]
        if marks and all((d.get("rollup") or {}).get("gen") == d["gen"] for d in marks):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the charts' read did not finish on its own")
    again = await _body(queries, a.RequestsPage(records=records, series=series))
    assert again["series"] == await _body(queries, series)
