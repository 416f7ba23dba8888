"""The console's activity reads in process: `ActivityQueries` straight against a separate
SecantusDB holding the same 10,000 records as `just bench-console` (no NATS, no gateway), so the
store's share of a page's time can be told from the rest on a busy machine.

    .venv/bin/python scripts/bench_activity_store.py [--records 10000] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench_console import bench_records
from pymongo import AsyncMongoClient

from activity.queries import ActivityQueries
from activity.repository import ActivityRepository, RecordKind
from shared.embedded import free_port, wait_for_port
from shared.messages import activity as a

ORG, PROJECT = "org_bench", "prj_bench"


async def timed(runs: int, read: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    """(first call ms, median ms, p95 ms) of `runs` calls after the first."""
    start = time.perf_counter_ns()
    await read()
    first = (time.perf_counter_ns() - start) / 1e6
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        await read()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return first, statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))]


async def run(uri: str, records: int, runs: int) -> list[tuple[str, tuple[float, float, float]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        repo = ActivityRepository(client, "keyrelay_activity")
        await repo.ensure_indexes(90)
        docs = bench_records(ORG, PROJECT, records)
        for start in range(0, len(docs), 1000):
            await repo.store(RecordKind.REQUEST, docs[start : start + 1000])
        queries = ActivityQueries(repo)
        scope = a.Scope(org_id=ORG)
        now = datetime.now(UTC)
        day, month = now - timedelta(hours=24), now - timedelta(days=30)
        # the console's charts start at their first bucket's start (`gateway.ui.charts.bucket_start`)
        day_hour = day.replace(minute=0, second=0, microsecond=0)
        month_day = month.replace(hour=0, minute=0, second=0, microsecond=0)
        reads: list[tuple[str, a.ActivityQuery]] = [
            ("newest 50 of the project (24 h)", a.ListRequestRecords(scope=scope, project_id=PROJECT, since=day)),
            (
                "50 with integration + status=502 (24 h)",
                a.ListRequestRecords(scope=scope, project_id=PROJECT, integration="bench", status=502, since=day),
            ),
            ("hourly series, 24 h", a.SeriesRequests(scope=scope, project_id=PROJECT, since=day_hour, until=now)),
            (
                "daily series, 30 d",
                a.SeriesRequests(scope=scope, project_id=PROJECT, bucket="day", since=month_day, until=now),
            ),
            ("summary by integration (all time)", a.SummarizeRequests(scope=scope, group_by="integration")),
            (
                "summary by integration, exactly the last 24 h",
                a.SummarizeRequests(scope=scope, group_by="integration", since=day, until=now),
            ),
            ("audit page (no events)", a.ListAudit(scope=scope)),
        ]
        out = []
        for name, query in reads:

            async def read(q: a.ActivityQuery = query) -> a.QueryResult:
                return await queries.run(q)

            out.append((name, await timed(runs, read)))
        return out
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-store-") as storage:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)),
                *("--storage-path", storage, "--log-level", "WARNING"),
            ],
        )
        try:
            wait_for_port(port, proc=proc, timeout_s=30)
            rows = asyncio.run(run(f"mongodb://127.0.0.1:{port}/?directConnection=true", args.records, args.runs))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"{args.records} records, {args.runs} runs after a first one; load average {os.getloadavg()}\n")
    print("| read | first ms (roll-ups computed) | median ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, (first, median, p95) in rows:
        print(f"| {name} | {first:.1f} | {median:.1f} | {p95:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
