"""The console's activity reads in process: `ActivityQueries` straight against a separate
SecantusDB holding the same 10,000 records as `just bench-console` (no NATS, no gateway), so the
store's share of a page's time can be told from the rest on a busy machine.

    .venv/bin/python scripts/bench_activity_store.py [--records 10000] [--runs 15]

`--insert-cost` measures the other side instead: the database server's own CPU (from /proc) per
request record written, for bulk inserts of request-shaped records into `requests` with no
secondary index, with session 5's eight, and with the set `ActivityRepository.ensure_indexes`
makes now; and per record of activity's whole write path (`ActivityRepository.store`: the insert
and the hours' generations). Batches of 1, 10 and 100 records (the consumer writes what one fetch
brought, up to 100 events); each case on a fresh database, the cases alternated `--rounds` times.
Then records stored one per write with and without the driver's retryable writes.

    .venv/bin/python scripts/bench_activity_store.py --insert-cost [--records 2000] [--rounds 2]
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
from pathlib import Path
from typing import Any

import msgspec
from bench_console import bench_records
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient

from activity.consumer import to_documents
from activity.queries import ActivityQueries
from activity.repository import ActivityRepository, RecordKind
from shared import subjects
from shared.embedded import free_port, wait_for_port
from shared.messages import activity as a
from shared.messages.usage import Usage
from shared.mongo import ACTIVITY_CLIENT_OPTIONS, CLIENT_OPTIONS

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


# session 5's secondary indexes on `requests` (created unnamed, so named as MongoDB derives names)
SESSION5_INDEXES: list[list[tuple[str, int]]] = [
    [("org_id", ASCENDING), ("ts", DESCENDING)],
    [("org_id", ASCENDING), ("project_id", ASCENDING), ("ts", DESCENDING)],
    [("org_id", ASCENDING), ("integration", ASCENDING), ("ts", DESCENDING)],
    [("org_id", ASCENDING), ("model_requested", ASCENDING), ("ts", DESCENDING)],
    [("org_id", ASCENDING), ("api_key_id", ASCENDING), ("ts", DESCENDING)],
    [("org_id", ASCENDING), ("status", ASCENDING), ("ts", DESCENDING)],
    [("org_id", ASCENDING), ("status", ASCENDING), ("integration", ASCENDING), ("ts", DESCENDING)],
]
BATCHES = (1, 10, 100)


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_documents(tag: str, count: int) -> list[dict[str, Any]]:
    """`count` records as the consumer makes them from the gateway's events (same fields and
    shape), a few milliseconds apart ending now, over three integrations (1 in 37 failed)."""
    now = datetime.now(UTC)
    slugs = ["bench", "bench-backup", "bench-eu"]
    events = []
    for i in range(count):
        slug, failed = slugs[i % 3], i % 37 == 0
        status = 502 if failed else 200
        events.append(
            a.RequestFinished(
                request_id=f"req_{tag}{i:08d}",
                ts=now - timedelta(milliseconds=3 * (count - i)),
                org_id=ORG,
                project_id=PROJECT,
                api_key_id="key_bench",
                integration=slug,
                provider="openai",
                model_requested="gpt-4o-mini",
                model_served="gpt-4o-mini",
                attempts=[a.Attempt(integration=slug, model="gpt-4o-mini", status=status, provider="openai")],
                status=status,
                error_code="upstream_error" if failed else None,
                latency_ms=80.0 + (i % 200),
                ttft_ms=None,
                usage=Usage(prompt_tokens=20, completion_tokens=40, total_tokens=60),
                cost_usd=0.000027,
                list_cost_usd=0.000027,
            )
        )
    batch = msgspec.json.encode(a.RequestBatch(events=events))
    return [doc for _, doc in to_documents(subjects.ACTIVITY_REQUEST_BATCH, batch)]


CASES = (
    "insert, no secondary index",
    "insert, session 5's eight",
    "insert, ensure_indexes' set",
    "store (insert + hours' generations), ensure_indexes' set",
    "store, ensure_indexes' set, records of 10 orgs",
)


async def insert_cost(uri: str, pid: int, records: int, rounds: int) -> dict[tuple[str, int], list[float]]:
    """Server CPU ms per record of each (case, batch size), one figure per round. Batches of 1 write
    a tenth of `records` (each write costs more than a hundred records' indexes)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, **CLIENT_OPTIONS)
    out: dict[tuple[str, int], list[float]] = {}
    serial = 0
    try:
        for _ in range(rounds):
            for batch in BATCHES:
                for case in CASES:
                    serial += 1
                    db_name = f"bench_insert_{serial}"
                    repo = ActivityRepository(client, db_name)
                    requests = client[db_name]["requests"]
                    if "session 5" in case:
                        for keys in SESSION5_INDEXES:
                            await requests.create_index(keys)
                        await requests.create_index([("ts", ASCENDING)], expireAfterSeconds=90 * 86400, name="ttl_ts")
                    elif "ensure_indexes" in case:
                        await repo.ensure_indexes(90)
                    else:
                        await client[db_name].create_collection("requests")
                    docs = request_documents(f"{serial}x", records if batch > 1 else records // 10)
                    if "10 orgs" in case:
                        for i, doc in enumerate(docs):
                            doc["org_id"] = f"org_bench_{i % 10}"
                    before = server_cpu_s(pid)
                    for start in range(0, len(docs), batch):
                        chunk = docs[start : start + batch]
                        if case.startswith("store"):
                            await repo.store(RecordKind.REQUEST, chunk)
                        else:
                            await requests.insert_many(chunk, ordered=False)
                    out.setdefault((case, batch), []).append((server_cpu_s(pid) - before) * 1000 / len(docs))
                    await client.drop_database(db_name)
        return out
    finally:
        await client.close()


async def retry_cost(uri: str, pid: int, records: int) -> dict[str, float]:
    """Server CPU ms per record stored alone (`ActivityRepository.store` of one record, as at
    concurrency 1) with the driver's retryable writes on (`CLIENT_OPTIONS`) and off (activity's
    `ACTIVITY_CLIENT_OPTIONS`), once the server remembers the 10,000 retryable writes a running
    stack reaches within minutes; the two alternated in blocks of 50 records."""
    clients: dict[str, AsyncMongoClient[dict[str, Any]]] = {
        "retryable writes (CLIENT_OPTIONS)": AsyncMongoClient(uri, **CLIENT_OPTIONS),
        "no retryable writes (ACTIVITY_CLIENT_OPTIONS)": AsyncMongoClient(uri, **ACTIVITY_CLIENT_OPTIONS),
    }
    filler = clients["retryable writes (CLIENT_OPTIONS)"]["bench_filler"]["writes"]
    try:
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with sem:
                await filler.insert_one({"_id": i})

        await asyncio.gather(*(one(i) for i in range(10_100)))
        spent = dict.fromkeys(clients, 0.0)
        docs = request_documents("retry", records)
        repos = {name: ActivityRepository(client, "bench_retry") for name, client in clients.items()}
        await next(iter(repos.values())).ensure_indexes(90)
        for block in range(0, records, 50):
            name = list(clients)[(block // 50) % 2]
            before = server_cpu_s(pid)
            for doc in docs[block : block + 50]:
                await repos[name].store(RecordKind.REQUEST, [doc])
            spent[name] += server_cpu_s(pid) - before
        return {name: seconds * 1000 / (records / 2) for name, seconds in spent.items()}
    finally:
        for client in clients.values():
            await client.close()


def start_store(storage: str, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    """A SecantusDB started as the embedded stack starts it (`shared.embedded.secantus_child`)."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)),
            *("--storage-path", storage, "--sync-on-commit", "--log-level", "WARNING", *extra),
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=None, help="10,000 for the reads, 2,000 per insert case")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--insert-cost", action="store_true", help="the database's CPU per record written")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-retries", action="store_true", help="with --insert-cost: skip the retryable-writes case")
    parser.add_argument("--server-arg", action="append", default=[], help="passed on to SecantusDB (repeatable)")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-store-") as storage:
        proc = start_store(storage, port, args.server_arg)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        try:
            wait_for_port(port, proc=proc, timeout_s=30)
            if args.insert_cost:
                costs = asyncio.run(insert_cost(uri, proc.pid, args.records or 2000, args.rounds))
                retries = {} if args.no_retries else asyncio.run(retry_cost(uri, proc.pid, 200))
            else:
                rows = asyncio.run(run(uri, args.records or 10_000, args.runs))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if args.insert_cost:
        print(f"{args.records or 2000} records per case, {args.rounds} rounds; load average {os.getloadavg()}\n")
        batches = " | ".join(f"batch {b}" for b in BATCHES)
        print(f"| SecantusDB CPU per record (ms, median of rounds) | {batches} |")
        print("|---|" + "---:|" * len(BATCHES))
        for case in dict.fromkeys(case for case, _ in costs):
            cells = " | ".join(f"{statistics.median(costs[case, b]):.3f}" for b in BATCHES)
            print(f"| {case} | {cells} |")
        print("\n| one record per write, after 10,000 retryable writes | SecantusDB CPU per record (ms) |\n|---|---:|")
        for name, ms in retries.items():
            print(f"| store, {name} | {ms:.3f} |")
        return 0
    print(f"{args.records or 10_000} records, {args.runs} runs after a first one; load average {os.getloadavg()}\n")
    print("| read | first ms (roll-ups computed) | median ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, (first, median, p95) in rows:
        print(f"| {name} | {first:.1f} | {median:.1f} | {p95:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
