"""`just bench-ab REV`: `just bench` for another commit and for this checkout, alternated in one run.

Each round runs this checkout's `scripts/bench.py` once per side (the order flips every round),
the services of each side from its own code on `PYTHONPATH` (the other commit is checked out in a
temporary git worktree), against the same venv, harness, machine and moment. Besides the latency
and throughput rows it reports the CPU each process of the stack spent per request through the
gateway (read from /proc by `bench.py`), which moves far less with the machine's load than
wall-clock latency does.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(
    r"^\| (direct to fake provider|through the gateway) \| (\d+) \| (\d+) \| ([\d,.]+) \| ([\d.]+) \| ([\d.]+) \|"
)
CPU_LINE = "CPU ms per request through the gateway: "


@dataclass
class Run:
    side: str
    rps: dict[tuple[str, int], float]
    p50: dict[tuple[str, int], float]
    p99: dict[tuple[str, int], float]
    cpu_ms: dict[str, float]

    def added(self, table: dict[tuple[str, int], float], concurrency: int) -> float:
        return table[("through the gateway", concurrency)] - table[("direct to fake provider", concurrency)]


def pythonpath(root: Path) -> str:
    return os.pathsep.join(
        [str(root), str(root / "shared" / "src"), *(str(p) for p in sorted((root / "services").glob("*/src")))]
    )


def bench(side: str, root: Path, n1: int, n64: int) -> Run:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--requests-c1", str(n1), "--requests-c64", str(n64)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": pythonpath(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps: dict[tuple[str, int], float] = {}
    p50: dict[tuple[str, int], float] = {}
    p99: dict[tuple[str, int], float] = {}
    cpu_ms: dict[str, float] = {}
    for line in out.splitlines():
        if line.startswith(CPU_LINE):
            for part in line.removeprefix(CPU_LINE).replace(";", ",").split(","):
                name, value = part.strip().rsplit(" ", 1)
                cpu_ms[name] = float(value)
        match = ROW.match(line)
        if match:
            key = (match[1], int(match[2]))
            rps[key] = float(match[4].replace(",", ""))
            p50[key] = float(match[5])
            p99[key] = float(match[6])
    return Run(side, rps, p50, p99, cpu_ms)


def row(run: Run, label: str) -> str:
    return (
        f"| {label} | {run.rps[('through the gateway', 1)]:,.0f} | {run.added(run.p50, 1):+.2f} ms "
        f"| {run.added(run.p99, 1):+.2f} ms | {run.rps[('through the gateway', 64)]:,.0f} "
        f"| {run.added(run.p50, 64):+.2f} ms | {run.cpu_ms.get('gateway', 0):.2f} ms "
        f"| {run.cpu_ms.get('whole stack', 0):.2f} ms |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit to compare this checkout with (e.g. a tag or origin/main)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests-c1", type=int, default=1000)
    parser.add_argument("--requests-c64", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True)
        try:
            runs: list[Run] = []
            for round_no in range(args.rounds):
                sides = [("base", base), ("this", ROOT)]
                for side, root in sides if round_no % 2 == 0 else reversed(sides):
                    runs.append(bench(side, root, args.requests_c1, args.requests_c64))
                    print(f"round {round_no + 1}: {side} done", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    print(f"base = {args.base}, this = the working tree; {args.rounds} rounds, order flipped every round\n")
    print(
        "| run | gateway req/s c=1 | added p50 c=1 | added p99 c=1 | gateway req/s c=64 | added p50 c=64 "
        "| gateway CPU per request | whole-stack CPU per request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for i, run in enumerate(runs):
        print(row(run, f"{run.side} #{i // 2 + 1}"))
    for side in ("base", "this"):
        mine = [r for r in runs if r.side == side]
        print(
            f"\n{side}: median added p50 c=1 {statistics.median(r.added(r.p50, 1) for r in mine):+.2f} ms, "
            f"median CPU per request: gateway {statistics.median(r.cpu_ms.get('gateway', 0) for r in mine):.2f} ms, "
            f"whole stack {statistics.median(r.cpu_ms.get('whole stack', 0) for r in mine):.2f} ms"
        )
        names = sorted({name for r in mine for name in r.cpu_ms})
        print("  " + ", ".join(f"{n} {statistics.median(r.cpu_ms.get(n, 0) for r in mine):.2f}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
