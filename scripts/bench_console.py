"""`just bench-console`: server-side render time of every console page with 10,000 activity
records in the store (target: median under 50 ms).

Starts the development stack on free ports, bootstraps an org, signs in through the console's own
forms, writes the activity records into the activity store through the activity consumer's own
write path (records and their hours' generations; set-up data, spread over the last 24 hours and three
integrations), then times each page over loopback: the time from sending
the GET to the last byte of the rendered HTML, so it includes the catalog and activity round trips
every page makes.

`--against REV` sets up two such stacks, this checkout's and REV's (its services from a temporary
git worktree on `PYTHONPATH`, with this harness), and alternates every page's requests between
them, so a busy machine's load moves both sides alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from devstack import DevStack, start
from pymongo import AsyncMongoClient, MongoClient

from activity.repository import ActivityRepository, RecordKind
from shared.embedded import free_port

PASSWORD = "benchmark password 1234"  # noqa: S105 - a throwaway stack's password


def operator_env(data_dir: Path, nats_url: str) -> dict[str, str]:
    password = next(
        line.split("=", 1)[1]
        for line in (data_dir / "secrets.env").read_text().splitlines()
        if line.startswith("KEYRELAY_NATS_PASSWORD__OPERATOR=")
    )
    return {
        **os.environ,
        "KEYRELAY_NATS_URL": nats_url,
        "KEYRELAY_NATS_USER": "operator",
        "KEYRELAY_NATS_PASSWORD": password,
        "KEYRELAY_ENV_FILE": os.devnull,
    }


def bench_records(org_id: str, project_id: str, count: int) -> list[dict[str, object]]:
    """`count` request records spread over the last 24 hours and three integrations (1 in 37 failed)."""
    now = datetime.now(UTC)
    slugs = ["bench", "bench-backup", "bench-eu"]
    docs: list[dict[str, object]] = []
    for i in range(count):
        slug = slugs[i % 3]
        failed = i % 37 == 0
        docs.append(
            {
                "_id": f"req_bench{i:08d}",
                "ts": now - timedelta(seconds=(i * 86_000) // count),
                "org_id": org_id,
                "project_id": project_id,
                "api_key_id": "key_bench",
                "endpoint": "chat.completions",
                "integration": slug,
                "provider": "openai",
                "model_requested": "gpt-4o-mini",
                "model_served": "gpt-4o-mini",
                "attempts": [{"integration": slug, "model": "gpt-4o-mini", "status": 502 if failed else 200}],
                "status": 502 if failed else 200,
                "error_code": "upstream_error" if failed else None,
                "stream": False,
                "latency_ms": 80.0 + (i % 200),
                "usage": {"prompt_tokens": 20, "completion_tokens": 40, "cached_tokens": 0, "total_tokens": 60},
                "cost_usd": 0.000027,
                "byok": True,
            }
        )
    return docs


def seed_activity(mongodb_uri: str, org_id: str, project_id: str, count: int) -> str:
    docs = bench_records(org_id, project_id, count)
    asyncio.run(_store(mongodb_uri, docs))
    return str(docs[0]["_id"])


async def _store(mongodb_uri: str, docs: list[dict[str, object]]) -> None:
    """Through the activity consumer's own write path (records, then their hours' generations)."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        repo = ActivityRepository(client, "keyrelay_activity")
        for start_at in range(0, len(docs), 1000):
            await repo.store(RecordKind.REQUEST, docs[start_at : start_at + 1000])
    finally:
        await client.close()


def sign_in(client: httpx.Client, owner_token: str, email: str) -> None:
    def csrf(path: str) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
        if match is None:
            raise SystemExit(f"no CSRF field on {path}")
        return match.group(1)

    token = csrf("/ui/set-password")
    client.post(
        "/ui/set-password", data={"csrf": token, "token": owner_token, "password": PASSWORD, "confirm": PASSWORD}
    )
    answer = client.post("/ui/signin", data={"csrf": csrf("/ui/signin"), "email": email, "password": PASSWORD})
    if "keyrelay_session" not in client.cookies:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def render_only(rows: list[dict[str, object]], series_rows: list[dict[str, object]], runs: int) -> list[float]:
    """The activity page's template alone (50 rows, four charts), in process: no I/O at all."""
    from types import SimpleNamespace  # noqa: PLC0415

    from gateway.ui.activity import RANGE_LABELS, STATUSES, charts  # noqa: PLC0415
    from gateway.ui.context import Console  # noqa: PLC0415
    from gateway.ui.render import NAV, environment  # noqa: PLC0415
    from shared.messages.catalog import MemberPrincipal  # noqa: PLC0415

    template = environment().get_template("activity.html")
    principal = MemberPrincipal(member_id="mem_x", org_id="org_x", email="o@example.com", org_role="owner")
    fake_token = "krs_" + "x" * 8
    console = Console(gw=None, request=None, token=fake_token, principal=principal, rid="req_x")  # type: ignore[arg-type]
    console.projects, console.project_id = [{"id": "prj_x", "name": "default"}], "prj_x"
    request = SimpleNamespace(url=SimpleNamespace(path="/ui/activity"), query_params={})
    until = datetime.now(UTC)
    times = []
    for _ in range(runs):
        start_ns = time.perf_counter_ns()
        template.render(
            c=console,
            nav=NAV,
            section="activity",
            request=request,
            recent=rows,
            next_link="/ui/activity?cursor=x",
            first_link=None,
            filters={"integration": "", "model": "", "project": "", "status": "", "period": "24h"},
            integrations=[{"slug": s} for s in ("bench", "bench-backup", "bench-eu")],
            statuses=STATUSES,
            ranges=RANGE_LABELS,
            charts=charts(series_rows, until - timedelta(hours=24), until, "hour"),  # type: ignore[arg-type]
            error=None,
        )
        times.append((time.perf_counter_ns() - start_ns) / 1e6)
    return times


def series_of(mongodb_uri: str, org_id: str) -> list[dict[str, object]]:
    """What activity's series query answers for the seeded records (computed here, once)."""
    buckets: dict[tuple[str, str], list[dict[str, object]]] = {}
    with MongoClient(mongodb_uri) as client:
        for doc in client["keyrelay_activity"]["requests"].find({"org_id": org_id}):
            key = (doc["integration"], doc["ts"].strftime("%Y-%m-%dT%H:00"))
            buckets.setdefault(key, []).append(doc)
    rows: list[dict[str, object]] = []
    for (slug, bucket), docs in buckets.items():
        latencies = sorted(float(d["latency_ms"]) for d in docs)
        rows.append(
            {
                "integration": slug,
                "bucket": bucket,
                "requests": len(docs),
                "errors": sum(1 for d in docs if int(str(d["status"])) >= 400),
                "cost_usd": sum(float(str(d["cost_usd"])) for d in docs),
                "p95_latency_ms": latencies[round(0.95 * (len(latencies) - 1))],
            }
        )
    return rows


def measure(client: httpx.Client, path: str, runs: int) -> list[float]:
    for _ in range(2):
        client.get(path).raise_for_status()
    return [timed_get(client, path) for _ in range(runs)]


def timed_get(client: httpx.Client, path: str) -> float:
    start_ns = time.perf_counter_ns()
    response = client.get(path)
    response.read()
    elapsed = (time.perf_counter_ns() - start_ns) / 1e6
    response.raise_for_status()
    return elapsed


PAGES = [
    "/ui/integrations",
    "/ui/integrations/new",
    "/ui/integrations/new/openai",
    "/ui/integrations/bench",
    "/ui/integrations/bench/models",
    "/ui/activity",
    "/ui/activity?period=30d",
    "/ui/activity?integration=bench&status=502",
    "/ui/activity/{request_id}",
    "/ui/keys",
    "/ui/members",
    "/ui/audit",
    "/ui/virtual-models",
    "/ui/virtual-models/bench-vm",
    "/ui/configs",
    "/ui/configs/bench-cfg",
]


@dataclass
class Bench:
    """A started stack with the benchmark's org, records and a signed-in console client."""

    dev: DevStack
    boot: dict[str, str]
    api: httpx.Client
    client: httpx.Client
    first_id: str

    def path(self, page: str) -> str:
        return page.replace("{request_id}", self.first_id)

    def close(self) -> None:
        self.client.close()
        self.api.close()
        self.dev.stop()


def prepare(records: int, pythonpath: str | None = None) -> Bench:
    """Start a stack (its services from `pythonpath` when given) and set it up for the pages."""
    data_dir = Path(tempfile.mkdtemp(prefix="keyrelay-bench-console-"))
    saved = os.environ.get("PYTHONPATH")
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = pythonpath  # the services inherit it
    try:
        dev = start(data_dir, free_port())
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        info = dev.info()
        email = f"bench-{time.time_ns()}@example.com"
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "shared.cli",
                "bootstrap",
                "--org",
                f"bench-{time.time_ns()}",
                "--owner-email",
                email,
            ],
            env=operator_env(data_dir, info["nats_url"]),
            capture_output=True,
            text=True,
            check=True,
        )
        boot = json.loads(out.stdout)
        api = httpx.Client(
            base_url=f"{info['gateway_url']}/api/v1",
            headers={"authorization": f"Bearer {boot['owner_token']}"},
            timeout=60,
        )
        for slug in ("bench", "bench-backup", "bench-eu"):
            api.post(
                "/integrations",
                json={
                    "provider": "openai",
                    "name": slug,
                    "slug": slug,
                    "credentials": {"api_key": info["provider_key"]},
                    "models": {"enabled": ["gpt-4o-mini"]},
                },
            ).raise_for_status()
        api.post("/api-keys", json={"project_id": boot["project_id"], "name": "bench"}).raise_for_status()
        api.post(
            "/configs",
            json={"name": "bench-cfg", "strategy": {"mode": "fallback"}, "targets": [{"integration": "bench"}]},
        ).raise_for_status()
        api.post(
            "/virtual-models", json={"name": "bench-vm", "targets": [{"model": "@bench/gpt-4o-mini"}]}
        ).raise_for_status()
        first_id = seed_activity(info["mongodb_uri"], boot["org_id"], boot["project_id"], records)
        client = httpx.Client(base_url=info["gateway_url"], timeout=30)
        sign_in(client, boot["owner_token"], email)
    except BaseException:
        dev.stop()
        raise
    return Bench(dev, boot, api, client, first_id)


def single(args: argparse.Namespace) -> int:
    bench = prepare(args.records)
    rows = []
    try:
        for page in PAGES:
            try:
                times = measure(bench.client, bench.path(page), args.runs)
            except httpx.HTTPStatusError as exc:
                rows.append((f"{page} FAILED {exc.response.status_code}", float("nan"), float("nan")))
                continue
            rows.append((page, statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))]))
        for path in ("/api/v1/activity?limit=50", "/api/v1/activity/summary?group_by=integration"):
            times = measure(bench.api, path.removeprefix("/api/v1"), args.runs)
            rows.append((f"{path} (management API, same store query)", statistics.median(times), max(times)))
        recent = bench.api.get("/activity?limit=50").json()["data"]
        times = render_only(recent, series_of(bench.dev.info()["mongodb_uri"], bench.boot["org_id"]), 200)
        rows.append(("activity.html rendered in process (no I/O)", statistics.median(times), max(times)))
    finally:
        bench.close()
    print(
        f"{args.records} activity records, {args.runs} runs per page after 2 warm-ups; load average {os.getloadavg()}\n"
    )
    print("| page | median ms | p95 ms |")
    print("|---|---:|---:|")
    for path, median, p95 in rows:
        print(f"| `{path}` | {median:.1f} | {p95:.1f} |")
    return 0


def against(args: argparse.Namespace) -> int:
    """Both sides at once, each its own stack: every page's requests alternate between them (the order
    flipping each time), so the machine's load moves both sides' figures alike."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-console-ab-") as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.against], cwd=root, check=True)
        benches: dict[str, Bench] = {}
        try:
            benches["base"] = prepare(args.records, pythonpath(worktree))
            benches["this"] = prepare(args.records)
            rows = []
            for page in PAGES:
                times: dict[str, list[float]] = {"base": [], "this": []}
                failed = {"base": 0, "this": 0}
                for bench in benches.values():
                    for _ in range(2):
                        bench.client.get(bench.path(page))
                for i in range(args.runs):
                    for side in ("base", "this") if i % 2 == 0 else ("this", "base"):
                        try:
                            times[side].append(timed_get(benches[side].client, benches[side].path(page)))
                        except httpx.HTTPStatusError:
                            failed[side] += 1  # e.g. a 503 when a dependency timed out on a busy machine
                if failed["base"] or failed["this"] or not times["base"] or not times["this"]:
                    print(f"{page}: failed requests {failed}", file=sys.stderr)
                    times = {side: got or [float("nan")] for side, got in times.items()}
                paired = [t - b for b, t in zip(times["base"], times["this"], strict=False)]
                rows.append(
                    (
                        page,
                        statistics.median(times["base"]),
                        statistics.median(times["this"]),
                        statistics.median(paired),
                    )
                )
        finally:
            for bench in benches.values():
                bench.close()
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=root, check=False)
    print(
        f"base = {args.against}, this = the working tree; {args.records} activity records; {args.runs} requests per "
        f"page and side after 2 warm-ups, alternating; load average {os.getloadavg()}\n"
    )
    print("| page | base median ms | this median ms | median of (this - base) ms |")
    print("|---|---:|---:|---:|")
    for page, base, this, diff in rows:
        print(f"| `{page}` | {base:.1f} | {this:.1f} | {diff:+.1f} |")
    return 0


def pythonpath(root: Path) -> str:
    return os.pathsep.join(
        [str(root), str(root / "shared" / "src"), *(str(p) for p in sorted((root / "services").glob("*/src")))]
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--against", metavar="REV", help="time this checkout's pages against another commit's, request by request"
    )
    args = parser.parse_args()
    return against(args) if args.against else single(args)


if __name__ == "__main__":
    raise SystemExit(main())
