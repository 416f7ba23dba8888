"""`just bench-cpu-ab BASE [THIS]`: CPU per request of every process of the stack, for a fixed amount
of work, two commits alternated in one run.

`just bench-ab` runs each scenario for a fixed time, so on a loaded machine a side that answered
fewer requests spreads its stack's fixed background CPU over fewer of them. Here every side gets
the same requests (`--scale` multiplies them): 1,500 at concurrency 1, 3,000 at 16, 1,000 streams
of 20 chunks at 16 (burst), 600 paced ones (5 ms apart) and 30 streams of 1,000 chunks; the CPU of
each process (with its children) is read from /proc from before a scenario until the stack is
idle again, so the activity records are counted in. Each side runs from its own temporary git
worktree with this checkout's harness (`scripts/bench.py`), one gateway worker, the order flipping
every round; each table gives every run and the medians. `--only` runs some of the scenarios.
Last, each side measures how soon a record is stored: ms from a response's end until its
document is in `requests`, for requests sent alone and beside a concurrency-1 load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("c1", "c16", "burst", "paced", "long")


def plan(scale: float) -> list[tuple[str, Any]]:
    from bench import Scenario  # noqa: PLC0415 - run from scripts/

    def n(count: int) -> int:
        return max(1, round(count * scale))

    return [
        ("c1", Scenario("c1", 1, max_requests=n(1500))),
        ("c16", Scenario("c16", 16, max_requests=n(3000))),
        ("burst", Scenario("burst", 16, stream=True, chunks=20, max_requests=n(1000))),
        ("paced", Scenario("paced", 16, stream=True, chunks=20, gap_ms=5, max_requests=n(600))),
        ("long", Scenario("long", 1, stream=True, chunks=1000, max_requests=n(30))),
    ]


def one_side(out: Path, scale: float, only: list[str]) -> None:
    """This process's side: its stack (from PYTHONPATH), every scenario once, figures to `out`."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench  # noqa: PLC0415

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-cpu-") as tmp:
        data_dir = Path(tmp)
        upstream_proc, upstream = bench.start_upstream(data_dir)
        stack, target, _ = bench.start_keyrelay(data_dir, upstream, 1)
        sampler = bench.MemorySampler([target])
        sampler.start()
        try:
            asyncio.run(bench.load(target, bench.Scenario("warm", 8, max_requests=300), 30))
            for key, scenario in plan(scale):
                if key not in only:
                    continue
                m = asyncio.run(bench.measure(target, scenario, 600))
                result[key] = {
                    "requests": m.requests,
                    "errors": m.errors,
                    "cpu_ms": {name: used * 1000 / max(1, m.cpu_requests) for name, used in m.cpu_s.items()},
                    "p50": bench.pct(m.latencies_ms, 0.5),
                    "ttfb50": bench.pct(m.ttfb_ms, 0.5),
                }
            sampler.stopped.set()
            result["visible_ms"] = asyncio.run(visibility(target, stack.mongodb_uri))
            result["rss_gateway_mib"] = target.peak_gateway_mib
            result["rss_mib"] = target.peak_by_process
        finally:
            stack.stop()
            upstream_proc.terminate()
            upstream_proc.wait()
    out.write_text(json.dumps(result))


async def visibility(target: Any, mongodb_uri: str, probes: int = 30) -> dict[str, float]:
    """Median ms from a response's end until its record is in `requests` (polled every 5 ms): for
    requests sent alone (each 200 ms after the previous record was stored), and for requests sent
    every 150 ms beside a concurrency-1 load."""
    import aiohttp  # noqa: PLC0415
    from pymongo import AsyncMongoClient  # noqa: PLC0415

    sys.path.insert(0, str(ROOT / "scripts"))
    import bench  # noqa: PLC0415

    body = bench.Scenario("visible", 1).body(target.model)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    requests = mongo["keyrelay_activity"]["requests"]
    headers = {"content-type": "application/json", **target.headers}
    out: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one() -> float:
                async with session.post(target.url, data=body) as resp:
                    await resp.read()
                    rid = resp.headers["x-request-id"]
                answered = time.perf_counter()
                while await requests.find_one({"_id": rid}, {"_id": 1}) is None:
                    if time.perf_counter() - answered > 30:
                        return float("nan")
                    await asyncio.sleep(0.005)
                return (time.perf_counter() - answered) * 1000

            lone = []
            for _ in range(probes):
                await asyncio.sleep(0.2)
                lone.append(await one())
            out["lone"] = statistics.median(lone)
            stop = asyncio.Event()

            async def background() -> None:
                while not stop.is_set():
                    async with session.post(target.url, data=body) as resp:
                        await resp.read()

            load = asyncio.create_task(background())
            loaded = []
            for _ in range(probes):
                await asyncio.sleep(0.15)
                loaded.append(await one())
            stop.set()
            await load
            out["c1"] = statistics.median(loaded)
    finally:
        await mongo.close()
    return out


def pythonpath(root: Path) -> str:
    return os.pathsep.join(
        [str(root), str(root / "shared" / "src"), *(str(p) for p in sorted((root / "services").glob("*/src")))]
    )


def table(runs: list[tuple[str, dict[str, Any]]], key: str) -> list[str]:
    procs = sorted({p for _, r in runs for p in r[key]["cpu_ms"]})
    lines = [
        f"{key}: CPU ms per request (per stream for streams)",
        "| run | " + " | ".join(procs) + " | whole stack | p50 ms | TTFB p50 ms | errors |",
        "|---" + "|---:" * (len(procs) + 4) + "|",
    ]
    for side, r in runs:
        cpu = r[key]["cpu_ms"]
        cells = " | ".join(f"{cpu.get(p, 0):.3f}" for p in procs)
        lines.append(
            f"| {side} | {cells} | {sum(cpu.values()):.3f} | {r[key]['p50']:.2f} | {r[key]['ttfb50']:.2f} "
            f"| {r[key]['errors']} |"
        )
    for side in ("base", "this"):
        mine = [r for s, r in runs if s == side]
        cells = " | ".join(f"{statistics.median(r[key]['cpu_ms'].get(p, 0) for r in mine):.3f}" for p in procs)
        total = statistics.median(sum(r[key]["cpu_ms"].values()) for r in mine)
        p50 = statistics.median(r[key]["p50"] for r in mine)
        ttfb = statistics.median(r[key]["ttfb50"] for r in mine)
        lines.append(f"| **{side}, median** | {cells} | {total:.3f} | {p50:.2f} | {ttfb:.2f} | |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit to compare with")
    parser.add_argument("this", nargs="?", default="HEAD", help="the commit measured against it (default HEAD)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every scenario's number of requests")
    parser.add_argument("--only", default=",".join(KEYS), help=f"the scenarios to run, of {','.join(KEYS)}")
    parser.add_argument("--side", type=Path, help=argparse.SUPPRESS)  # internal: run one side into this file
    args = parser.parse_args()
    if args.side is not None:
        one_side(args.side, args.scale, args.only.split(","))
        return 0
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-cpu-ab-") as tmp:
        trees = {"base": Path(tmp) / "base", "this": Path(tmp) / "this"}
        for side, rev in (("base", args.base), ("this", args.this)):
            subprocess.run(["git", "worktree", "add", "--detach", str(trees[side]), rev], cwd=ROOT, check=True)
        runs: list[tuple[str, dict[str, Any]]] = []
        try:
            for round_no in range(args.rounds):
                order = ("base", "this") if round_no % 2 == 0 else ("this", "base")
                for side in order:
                    out = Path(tmp) / f"{side}-{round_no}.json"
                    subprocess.run(
                        [
                            sys.executable,
                            str(Path(__file__).resolve()),
                            "x",
                            "--scale",
                            str(args.scale),
                            "--only",
                            args.only,
                            "--side",
                            str(out),
                        ],
                        cwd=trees[side],
                        env={**os.environ, "PYTHONPATH": pythonpath(trees[side])},
                        check=True,
                    )
                    runs.append((side, json.loads(out.read_text())))
                    print(f"round {round_no + 1}: {side} done", file=sys.stderr, flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    print(
        f"base = {args.base}, this = {args.this}; {args.rounds} rounds, order flipped every round; "
        f"load average at the end {os.getloadavg()[0]:.1f}\n"
    )
    for key in args.only.split(","):
        print("\n".join(table(runs, key)) + "\n")
    for side in ("base", "this"):
        peaks = [r["rss_gateway_mib"] for s, r in runs if s == side]
        print(f"{side}: gateway peak RSS (1 worker) {statistics.median(peaks):.0f} MiB")
    print("\nms from a response's end until its record is stored (median of 30; alone / beside a c=1 load)")
    for side, r in runs:
        visible = r.get("visible_ms", {})
        print(f"| {side} | {visible.get('lone', float('nan')):.1f} | {visible.get('c1', float('nan')):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
