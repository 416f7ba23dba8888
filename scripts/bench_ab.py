"""`just bench-ab REV`: `just bench --no-peers` for another commit and for this checkout, alternated in one run.

Each round runs this checkout's `scripts/bench.py` once per side (the order flips every round),
the services of each side from its own code on `PYTHONPATH` (the other commit is checked out in a
temporary git worktree), against the same venv, harness, machine and moment. Besides the latency
and throughput rows it reports the CPU each process of the stack spent per request through the
gateway (read from /proc by `bench.py`), which moves far less with the machine's load than
wall-clock latency does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    side: str
    figures: dict[str, list[float]]
    cpu_ms: dict[str, float]

    def first(self, label: str) -> float:
        return self.figures[label][0]


def pythonpath(root: Path) -> str:
    return os.pathsep.join(
        [str(root), str(root / "shared" / "src"), *(str(p) for p in sorted((root / "services").glob("*/src")))]
    )


def bench(side: str, root: Path, seconds: float, only: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-ab-run-") as tmp:
        out = Path(tmp) / "figures.json"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "bench.py"),
                "--no-peers",
                "--reps",
                "1",
                "--seconds",
                str(seconds),
                "--json",
                str(out),
                *(["--only", only] if only else []),
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": pythonpath(root)},
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(out.read_text())["figures"]["Keyrelay"]
    cpu_ms = dict(figures.pop("cpu_ms_per_request_by_process", {}))
    figures.pop("peak_rss_mib_by_process", None)
    cpu_ms["whole stack"] = sum(cpu_ms.values())
    return Run(side, figures, cpu_ms)


C1_P50 = "added p50 latency, concurrency 1"
C1_P99 = "added p99 latency, concurrency 1"
C64 = "req/s at concurrency 64"
SLOW = "req/s at concurrency 64, upstream answering in 50 ms"
TTFB = "stream TTFB p50 (20 chunks, 5 ms apart, c=16)"
STREAM_CPU = "gateway CPU per 20-chunk stream, burst / paced"
LONG = "-chunk stream (burst), c=1: added p50 / gateway CPU / stack CPU per stream"
RSS = "peak RSS of the gateway processes"


STACK = [  # bench.py's cold-path and activity figures (`--only cold,activity` runs just them)
    ("cold first request p50 / p99", "cold path: first request of a fresh key on a fresh integration, p50 / p99"),
    ("second request p50 / p99", "same keys, second request, p50 / p99"),
    ("activity events/s until stored", "activity: events/s from the first request until the last record is stored"),
    ("gateway req/s in that burst", "activity burst: requests/s answered by the gateway"),
    ("activity CPU per event", "activity process CPU per event"),
]


def stack_row(run: Run, label: str) -> str:
    cells = []
    for name, key in STACK:
        values = run.figures.get(key)
        if values is None:
            cells.append("-")
        elif name.endswith(("events/s until stored", "req/s in that burst")):
            cells.append(" / ".join(f"{v:,.0f}" for v in values))
        else:
            cells.append(" / ".join(f"{v:.2f} ms" for v in values))
    return f"| {label} | " + " | ".join(cells) + " |"


def row(run: Run, label: str) -> str:
    return (
        f"| {label} | {run.first(C1_P50):+.2f} ms | {run.first(C1_P99):+.2f} ms | {run.first(C64):,.0f} "
        f"| {run.first(SLOW):,.0f} | {run.first(TTFB):.2f} ms | {run.cpu_ms.get('gateway', 0):.2f} ms "
        f"| {run.cpu_ms.get('whole stack', 0):.2f} ms | {run.figures[STREAM_CPU][0]:.2f} ms "
        f"| {next(v[1] for k, v in run.figures.items() if k.endswith(LONG)):.2f} ms "
        f"| {run.figures.get(RSS, [0.0])[0]:.0f} MiB |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit to compare this checkout with (e.g. a tag or origin/main)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run of bench.py")
    parser.add_argument("--only", default="", help="passed to bench.py: only its cold and/or activity figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True)
        try:
            runs: list[Run] = []
            for round_no in range(args.rounds):
                sides = [("base", base), ("this", ROOT)]
                for side, root in sides if round_no % 2 == 0 else reversed(sides):
                    runs.append(bench(side, root, args.seconds, args.only))
                    print(f"round {round_no + 1}: {side} done", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    print(f"base = {args.base}, this = the working tree; {args.rounds} rounds, order flipped every round\n")
    print("| run | " + " | ".join(name for name, _ in STACK) + " |")
    print("|---" + "|---:" * len(STACK) + "|")
    for i, run in enumerate(runs):
        print(stack_row(run, f"{run.side} #{i // 2 + 1}"))
    if args.only:
        return 0
    print()
    print(
        "| run | added p50 c=1 | added p99 c=1 | req/s c=64 | req/s c=64, 50 ms upstream | stream TTFB p50 "
        "| gateway CPU per request | whole-stack CPU per request | gateway CPU per 20-chunk burst stream "
        "| gateway CPU per long stream | gateway peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, run in enumerate(runs):
        print(row(run, f"{run.side} #{i // 2 + 1}"))
    for side in ("base", "this"):
        mine = [r for r in runs if r.side == side]
        print(
            f"\n{side}: median added p50 c=1 {statistics.median(r.first(C1_P50) for r in mine):+.2f} ms, "
            f"median CPU per request: gateway {statistics.median(r.cpu_ms.get('gateway', 0) for r in mine):.2f} ms, "
            f"whole stack {statistics.median(r.cpu_ms.get('whole stack', 0) for r in mine):.2f} ms"
        )
        names = sorted({name for r in mine for name in r.cpu_ms})
        print("  " + ", ".join(f"{n} {statistics.median(r.cpu_ms.get(n, 0) for r in mine):.2f}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
