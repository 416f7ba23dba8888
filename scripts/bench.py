"""`just bench`: requests/s and p50/p99 latency, straight to the fake provider and through the
gateway, at concurrency 1 and 64, in one run, plus the added latency and the throughput ratio.

The load generator, the fake provider and the stack share this machine's cores, so compare rows
within one run, not across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from devstack import start

from shared.embedded import free_port

BODY = {"model": "", "messages": [{"role": "user", "content": "benchmark me please, a short answer"}]}


@dataclass
class Result:
    name: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


async def load(
    url: str, headers: dict[str, str], body: dict[str, object], concurrency: int, total: int, stream: bool = False
) -> tuple[float, list[float], int]:
    payload = json.dumps({**body, "stream": stream}).encode()
    latencies: list[float] = []
    errors = 0
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers={"content-type": "application/json", **headers}
    ) as session:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.post(url, data=payload) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, errors


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc), 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except (OSError, ValueError, IndexError):
        return 0.0
    return own + sum(process_cpu_s(child) for child in children)


def stack_cpu_s(pids: dict[str, int]) -> dict[str, float]:
    return {name: process_cpu_s(pid) for name, pid in pids.items()}


async def run(
    direct: str, gateway: str, provider_key: str, api_key: str, n1: int, n64: int, pids: dict[str, int]
) -> tuple[list[Result], dict[str, float]]:
    """The four measured runs, and the CPU seconds each process of the stack spent on the two
    runs through the gateway (not on the direct ones or the warm-ups)."""
    results = []
    cpu: dict[str, float] = dict.fromkeys(pids, 0.0)
    targets = [
        ("direct to fake provider", f"{direct}/openai/v1/chat/completions", provider_key, "gpt-4o-mini"),
        ("through the gateway", f"{gateway}/v1/chat/completions", api_key, "@bench/gpt-4o-mini"),
    ]
    for concurrency, total in ((1, n1), (64, n64)):
        for name, url, key, model in targets:
            body = {**BODY, "model": model}
            await load(url, {"authorization": f"Bearer {key}"}, body, min(concurrency, 8), 50)  # warm-up
            await asyncio.sleep(0.5)  # the warm-up's records are written before the CPU is read
            before = stack_cpu_s(pids)
            seconds, lat, errors = await load(url, {"authorization": f"Bearer {key}"}, body, concurrency, total)
            await asyncio.sleep(0.5)  # and this run's records are counted in
            if name == "through the gateway":
                after = stack_cpu_s(pids)
                for process, used in after.items():
                    cpu[process] += used - before[process]
            results.append(Result(name, concurrency, total, seconds, lat, errors))
    return results, cpu


def cpu_line(cpu: dict[str, float], requests: int) -> str:
    parts = ", ".join(f"{name} {used * 1000 / requests:.2f}" for name, used in cpu.items())
    return f"CPU ms per request through the gateway: {parts}; whole stack {sum(cpu.values()) * 1000 / requests:.2f}"


def table(results: list[Result]) -> str:
    lines = ["| path | concurrency | requests | req/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r.name} | {r.concurrency} | {r.requests} | {r.rps:,.0f} | {r.pct(0.5):.2f} | {r.pct(0.99):.2f} "
        f"| {r.errors} |"
        for r in results
    ]
    lines.append("")
    for concurrency in (1, 64):
        direct, through = (r for r in results if r.concurrency == concurrency)
        lines.append(
            f"c={concurrency}: added latency p50 {through.pct(0.5) - direct.pct(0.5):+.2f} ms, "
            f"p99 {through.pct(0.99) - direct.pct(0.99):+.2f} ms; throughput ratio gateway/direct "
            f"{through.rps / direct.rps:.2f}"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def setup_org(dev_info: dict[str, str], data_dir: Path) -> str:
    import httpx  # noqa: PLC0415

    password = next(
        line.split("=", 1)[1]
        for line in (data_dir / "secrets.env").read_text().splitlines()
        if line.startswith("KEYRELAY_NATS_PASSWORD__OPERATOR=")
    )
    env = {
        **os.environ,
        "KEYRELAY_NATS_URL": dev_info["nats_url"],
        "KEYRELAY_NATS_USER": "operator",
        "KEYRELAY_NATS_PASSWORD": password,
        "KEYRELAY_ENV_FILE": os.devnull,
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.cli",
            "bootstrap",
            "--org",
            f"bench-{time.time_ns()}",
            "--owner-email",
            "bench@example.com",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    boot = json.loads(out.stdout)
    owner = httpx.Client(
        base_url=f"{dev_info['gateway_url']}/api/v1",
        timeout=30,
        headers={"authorization": f"Bearer {boot['owner_token']}"},
    )
    owner.post(
        "/integrations",
        json={
            "provider": "openai",
            "name": "bench",
            "slug": "bench",
            "credentials": {"api_key": dev_info["provider_key"]},
            "models": {"enabled": ["gpt-4o-mini"]},
        },
    ).raise_for_status()
    return str(owner.post("/api-keys", json={"project_id": boot["project_id"], "name": "bench"}).json()["key"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests-c1", type=int, default=1000)
    parser.add_argument("--requests-c64", type=int, default=5000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    dev = start(data_dir, free_port())
    try:
        info = dev.info()
        api_key = setup_org(info, data_dir)
        pids = {name: child.proc.pid for name, child in dev.stack.children.items() if child.proc is not None}
        results, cpu = asyncio.run(
            run(
                info["fake_root"],
                info["gateway_url"],
                info["provider_key"],
                api_key,
                args.requests_c1,
                args.requests_c64,
                pids,
            )
        )
    finally:
        dev.stop()
    print(f"machine: {machine()}")
    print(table(results))
    print(cpu_line(cpu, args.requests_c1 + args.requests_c64))
    return 0


if __name__ == "__main__":
    sys.exit(main())
