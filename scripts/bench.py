"""`just bench`: Keyrelay, LiteLLM's proxy and Portkey's gateway against one fake upstream, in one run.

Every gateway (and the upstream called directly, the baseline) gets the same scenarios, interleaved
(scenario by scenario, the order of the gateways rotating every repetition), and each figure is the
median over the repetitions: added latency at concurrency 1, req/s at concurrency 64 (instant and
50 ms upstream), streams (time to first byte, CPU per stream), CPU per request of the gateway's
processes and of the whole stack (read from /proc: Keyrelay's NATS, activity, catalog, keyvault and
database count too), peak resident memory, and how the cost grows with the prompt's size and the
stream's length. Two figures of the stack behind the gateway too (`--only cold,activity` runs just
them): the cold path (the first request of fresh API keys, each on its own fresh integration, so
catalog resolves the key and the route and keyvault reveals the credential, against a second request
of the same keys) and activity's throughput (events/s from the first of a burst of requests until
the last record is in MongoDB, and the activity process's CPU per event). The peers are installed
at bench time in a temporary folder (`bench_peers.py`).

The load generator (aiohttp, this process), the upstream and every stack share this machine's
cores, so compare columns within one run, not across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from bench_peers import LITELLM, PORTKEY, Peer, start_litellm, start_portkey

from shared.embedded import free_port, wait_for_port
from shared.stack import EmbeddedStack

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
DIRECT, KEYRELAY = "direct", "Keyrelay"


# --- processes: CPU and memory from /proc ---------------------------------------------------------
def _tree(pid: int) -> Iterator[int]:
    yield pid
    with contextlib.suppress(OSError, ValueError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                yield from _tree(int(child))


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc), 0 if gone."""
    total = 0.0
    for one in _tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def process_rss_mib(pid: int) -> float:
    total = 0
    for one in _tree(pid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@dataclass
class Target:
    name: str
    url: str
    model: str
    headers: dict[str, str]
    gateway: dict[str, int]  # the processes counted as "the gateway" (with their children)
    stack: dict[str, int]  # every process of this target's stack, the gateway's included
    peak_gateway_mib: float = 0.0
    peak_stack_mib: float = 0.0
    peak_by_process: dict[str, float] = field(default_factory=dict)

    def cpu(self) -> dict[str, float]:
        return {name: process_cpu_s(pid) for name, pid in self.stack.items()}

    def sample_memory(self) -> None:
        rss = {name: process_rss_mib(pid) for name, pid in self.stack.items()}
        self.peak_gateway_mib = max(self.peak_gateway_mib, sum(rss[name] for name in self.gateway))
        self.peak_stack_mib = max(self.peak_stack_mib, sum(rss.values()))
        for name, value in rss.items():
            self.peak_by_process[name] = max(self.peak_by_process.get(name, 0.0), value)


class MemorySampler(threading.Thread):
    def __init__(self, targets: list[Target], every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.targets, self.every_s, self.stopped = targets, every_s, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            for target in self.targets:
                target.sample_memory()


# --- the load ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    key: str
    concurrency: int
    stream: bool = False
    delay_ms: int = 0
    chunks: int = 20
    gap_ms: int = 0
    prompt_bytes: int = 0
    max_requests: int = 1_000_000

    def body(self, model: str) -> bytes:
        head = f"bench delay={self.delay_ms} chunks={self.chunks} gap={self.gap_ms}\n"
        text = head + "benchmark me please, a short answer"
        if self.prompt_bytes:
            text = head + "x" * max(0, self.prompt_bytes - len(head))
        return json.dumps(
            {"model": model, "messages": [{"role": "user", "content": text}], "stream": self.stream}
        ).encode()


@dataclass
class Measure:
    requests: int
    seconds: float
    latencies_ms: list[float]
    ttfb_ms: list[float]
    errors: int
    cpu_s: dict[str, float]  # per process of the target's stack, over the run and until it went idle
    gateway: list[str]
    warm_requests: int = 0  # sent before the timed part; their CPU is in `cpu_s`, so they count for it

    @property
    def cpu_requests(self) -> int:
        """The requests whose CPU `cpu_s` holds: the timed ones and the warm-up's."""
        return self.requests + self.warm_requests

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_gateway_s(self) -> float:
        return sum(self.cpu_s[name] for name in self.gateway)

    @property
    def cpu_stack_s(self) -> float:
        return sum(self.cpu_s.values())


def pct(data: list[float], q: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


async def load(
    target: Target, scenario: Scenario, seconds: float
) -> tuple[int, float, list[float], list[float], int, int]:
    payload = scenario.body(target.model)
    latencies: list[float] = []
    ttfbs: list[float] = []
    errors = 0
    done = 0
    connector = aiohttp.TCPConnector(limit=scenario.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"content-type": "application/json", **target.headers}
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:

        async def one() -> tuple[float, float, bool]:
            started = time.perf_counter()
            first = 0.0
            async with session.post(target.url, data=payload) as resp:
                if scenario.stream:
                    async for _ in resp.content.iter_any():
                        if not first:
                            first = time.perf_counter()
                else:
                    await resp.read()
                    first = time.perf_counter()
                ok = resp.status == 200
            return (time.perf_counter() - started) * 1000, (first - started) * 1000, ok

        async def worker(deadline: float, keep: bool) -> None:
            nonlocal errors, done
            while time.perf_counter() < deadline and done < scenario.max_requests:
                done += 1
                try:
                    latency, ttfb, ok = await one()
                except (aiohttp.ClientError, TimeoutError):
                    ok, latency, ttfb = False, 0.0, 0.0
                if not keep:
                    continue
                if ok:
                    latencies.append(latency)
                    ttfbs.append(ttfb)
                else:
                    errors += 1

        warm = time.perf_counter() + min(1.0, seconds / 4)
        await asyncio.gather(*(worker(warm, keep=False) for _ in range(min(scenario.concurrency, 8))))
        warmed, done = done, 0
        began = time.perf_counter()
        await asyncio.gather(*(worker(began + seconds, keep=True) for _ in range(scenario.concurrency)))
        elapsed = time.perf_counter() - began
    return len(latencies) + errors, elapsed, latencies, ttfbs, errors, warmed


def settle(target: Target, limit_s: float = 30.0) -> None:
    """Wait until the target's stack is idle again (its activity records written, its queues empty)."""
    deadline = time.monotonic() + limit_s
    before = sum(target.cpu().values())
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = sum(target.cpu().values())
        if now - before < 0.015:  # under 5 % of one core
            return
        before = now


async def measure(target: Target, scenario: Scenario, seconds: float) -> Measure:
    await asyncio.to_thread(settle, target)
    before = target.cpu()
    requests, elapsed, latencies, ttfbs, errors, warmed = await load(target, scenario, seconds)
    await asyncio.to_thread(settle, target)
    after = target.cpu()
    cpu = {name: after[name] - before[name] for name in before}
    return Measure(requests, elapsed, latencies, ttfbs, errors, cpu, list(target.gateway), warmed)


# --- figures ------------------------------------------------------------------------------------------
Runs = dict[tuple[str, str], Measure]  # (scenario, target) -> measure, one repetition


def _cpu_ms(runs: Runs, target: str, keys: tuple[str, ...], *, stack: bool) -> float:
    measures = [runs[(k, target)] for k in keys]
    used = sum(m.cpu_stack_s if stack else m.cpu_gateway_s for m in measures)
    count = sum(m.cpu_requests for m in measures)
    return used * 1000 / count if count else float("nan")


def _added(runs: Runs, key: str, target: str, q: float) -> float:
    return pct(runs[(key, target)].latencies_ms, q) - pct(runs[(key, DIRECT)].latencies_ms, q)


FIGURES: list[tuple[str, str, Callable[[Runs, str], tuple[float, ...]]]] = [
    # (label, unit, value of one target in one repetition)
    ("added p50 latency, concurrency 1", "ms", lambda r, t: (_added(r, "c1", t, 0.5),)),
    ("added p99 latency, concurrency 1", "ms", lambda r, t: (_added(r, "c1", t, 0.99),)),
    ("CPU of the gateway processes per request", "ms", lambda r, t: (_cpu_ms(r, t, ("c1", "c64"), stack=False),)),
    ("CPU of the whole stack per request", "ms", lambda r, t: (_cpu_ms(r, t, ("c1", "c64"), stack=True),)),
    ("req/s at concurrency 64", "req/s", lambda r, t: (r[("c64", t)].rps,)),
    ("req/s at concurrency 64, upstream answering in 50 ms", "req/s", lambda r, t: (r[("slow64", t)].rps,)),
    ("stream TTFB p50 (20 chunks, 5 ms apart, c=16)", "ms", lambda r, t: (pct(r[("paced", t)].ttfb_ms, 0.5),)),
    (
        "gateway CPU per 20-chunk stream, burst / paced",
        "ms",
        lambda r, t: (_cpu_ms(r, t, ("burst",), stack=False), _cpu_ms(r, t, ("paced",), stack=False)),
    ),
    (
        "whole-stack CPU per 20-chunk stream, burst / paced",
        "ms",
        lambda r, t: (_cpu_ms(r, t, ("burst",), stack=True), _cpu_ms(r, t, ("paced",), stack=True)),
    ),
]
MEMORY = [("peak RSS of the gateway processes", "MiB"), ("peak RSS of the whole stack", "MiB")]


def growth_figures(
    sizes: list[int], long_chunks: int
) -> list[tuple[str, str, Callable[[Runs, str], tuple[float, ...]]]]:
    out: list[tuple[str, str, Callable[[Runs, str], tuple[float, ...]]]] = []
    for size in sizes:
        key = f"prompt{size}"
        out.append(
            (
                f"{size // 1024} KB prompt, c=1: added p50 / gateway CPU / stack CPU per request",
                "ms",
                lambda r, t, key=key: (  # type: ignore[misc]
                    _added(r, key, t, 0.5),
                    _cpu_ms(r, t, (key,), stack=False),
                    _cpu_ms(r, t, (key,), stack=True),
                ),
            )
        )
    out.append(
        (
            f"{long_chunks:,}-chunk stream (burst), c=1: added p50 / gateway CPU / stack CPU per stream",
            "ms",
            lambda r, t: (
                _added(r, "long", t, 0.5),
                _cpu_ms(r, t, ("long",), stack=False),
                _cpu_ms(r, t, ("long",), stack=True),
            ),
        )
    )
    return out


def scenarios(sizes: list[int], long_chunks: int) -> list[tuple[Scenario, float]]:
    """Each scenario with its share of `--seconds`."""
    return [
        (Scenario("c1", 1), 1.0),
        (Scenario("c64", 64), 1.0),
        (Scenario("slow64", 64, delay_ms=50), 1.0),
        (Scenario("paced", 16, stream=True, chunks=20, gap_ms=5), 1.0),
        (Scenario("burst", 16, stream=True, chunks=20), 1.0),
        *((Scenario(f"prompt{size}", 1, prompt_bytes=size), 0.6) for size in sizes),
        (Scenario("long", 1, stream=True, chunks=long_chunks), 0.6),
    ]


def fmt(values: tuple[float, ...], unit: str) -> str:
    if unit == "req/s":
        return " / ".join(f"{v:,.0f}" for v in values)
    return " / ".join("failed" if math.isnan(v) else f"{v:+.2f}" if v < 0 else f"{v:.2f}" for v in values)


def ratio(mine: tuple[float, ...], theirs: tuple[float, ...]) -> str:
    return " / ".join(
        f"{a / b:.2f}x" if b > 0 and not math.isnan(a) else "-" for a, b in zip(mine, theirs, strict=True)
    )


def median_values(reps: list[Runs], target: str, fn: Callable[[Runs, str], tuple[float, ...]]) -> tuple[float, ...]:
    values = [fn(r, target) for r in reps]
    return tuple(statistics.median(v[i] for v in values) for i in range(len(values[0])))


def report(
    reps: list[Runs], targets: list[Target], sizes: list[int], long_chunks: int
) -> tuple[str, dict[str, dict[str, object]]]:
    names = [t.name for t in targets]
    peers = [n for n in names if n not in (DIRECT, KEYRELAY)]
    head = ["figure", *names, *(f"Keyrelay / {p}" for p in peers)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    data: dict[str, dict[str, object]] = {n: {} for n in names}
    for label, unit, fn in FIGURES + growth_figures(sizes, long_chunks):
        values = {n: median_values(reps, n, fn) for n in names}
        for n in names:
            data[n][label] = list(values[n])
        cells = []
        for n in names:
            if n == DIRECT and label.startswith("added"):
                q = 0.5 if "p50" in label else 0.99
                base = statistics.median(pct(r[("c1", DIRECT)].latencies_ms, q) for r in reps)
                cells.append(f"0 ({base:.2f} ms)")
            else:
                cells.append(fmt(values[n], unit))
        cells += [ratio(values[KEYRELAY], values[p]) for p in peers]
        lines.append(f"| {label} ({unit}) | " + " | ".join(cells) + " |")
    for (label, unit), attr in zip(MEMORY, ("peak_gateway_mib", "peak_stack_mib"), strict=True):
        values = {t.name: (float(getattr(t, attr)),) for t in targets}
        for n in names:
            data[n][label] = list(values[n])
        cells = [fmt(values[n], unit) for n in names] + [ratio(values[KEYRELAY], values[p]) for p in peers]
        lines.append(f"| {label} ({unit}) | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"direct = the upstream alone (its CPU and memory in the CPU and RSS rows); {len(reps)} repetitions")
    keyrelay = next(t for t in targets if t.name == KEYRELAY)
    per_process = {
        name: statistics.median(
            sum(r[(k, KEYRELAY)].cpu_s[name] for k in ("c1", "c64"))
            * 1000
            / sum(r[(k, KEYRELAY)].cpu_requests for k in ("c1", "c64"))
            for r in reps
        )
        for name in keyrelay.stack
    }
    data[KEYRELAY]["cpu_ms_per_request_by_process"] = per_process
    data[KEYRELAY]["peak_rss_mib_by_process"] = keyrelay.peak_by_process
    lines.append(
        "Keyrelay CPU ms per request by process (c=1 and c=64 runs): "
        + ", ".join(f"{n} {v:.2f}" for n, v in per_process.items())
    )
    lines.append(
        "Keyrelay peak RSS MiB by process: " + ", ".join(f"{n} {v:.0f}" for n, v in keyrelay.peak_by_process.items())
    )
    errors = {f"{t}/{k}": m.errors for r in reps for (k, t), m in r.items() if m.errors}
    lines.append(f"errors (non-200 or failed): {errors or 'none'}")
    return "\n".join(lines), data


def machine() -> str:
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


# --- the stacks ---------------------------------------------------------------------------------------
def start_upstream(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "bench_upstream.py"), "--port", str(port)],
        stdout=(data_dir / "upstream.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


@dataclass
class Owner:
    api: Any  # an httpx.Client on /api/v1 with the owner's token
    project_id: str


def start_keyrelay(data_dir: Path, upstream: str, workers: int) -> tuple[EmbeddedStack, Target, Owner]:
    stack = EmbeddedStack(
        data_dir=data_dir / "keyrelay",
        http_port=free_port(),
        extra_env={
            "KEYRELAY_PROVIDER_BASE_URLS": json.dumps({"openai": upstream + "/v1"}),
            "KEYRELAY_UPSTREAM_ALLOW": "127.0.0.1/32",
            **({"KEYRELAY_HTTP_WORKERS": str(workers)} if workers else {}),
        },
        log_format="json",
    )
    try:
        stack.start()
        api_key, owner = setup_org(stack)
    except BaseException:
        stack.stop()
        raise
    pids = {name: child.proc.pid for name, child in stack.children.items() if child.proc is not None}
    target = Target(
        KEYRELAY,
        f"{stack.gateway_url}/v1/chat/completions",
        "@bench/gpt-4o-mini",
        {"authorization": f"Bearer {api_key}"},
        {"gateway": pids["gateway"]},
        pids,
    )
    return stack, target, owner


def setup_org(stack: EmbeddedStack) -> tuple[str, Owner]:
    import httpx  # noqa: PLC0415

    env = {
        **os.environ,
        "KEYRELAY_NATS_URL": stack.nats_url,
        "KEYRELAY_NATS_USER": "operator",
        "KEYRELAY_NATS_PASSWORD": stack.password("operator"),
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
        base_url=f"{stack.gateway_url}/api/v1", timeout=30, headers={"authorization": f"Bearer {boot['owner_token']}"}
    )
    owner.post(
        "/integrations",
        json={
            "provider": "openai",
            "name": "bench",
            "slug": "bench",
            "credentials": {"api_key": "sk-bench-upstream"},
            "models": {"enabled": ["gpt-4o-mini"]},
        },
    ).raise_for_status()
    key = str(owner.post("/api-keys", json={"project_id": boot["project_id"], "name": "bench"}).json()["key"])
    return key, Owner(owner, str(boot["project_id"]))


# --- the stack behind the gateway: cold path, activity's throughput -----------------------------------
COLD = "cold path: first request of a fresh key on a fresh integration, p50 / p99"
WARM = "same keys, second request, p50 / p99"
DRAIN = "activity: events/s from the first request until the last record is stored"
SENT = "activity burst: requests/s answered by the gateway"
EVENT_CPU = "activity process CPU per event"


async def _timed_post(session: aiohttp.ClientSession, target: Target, key: str, model: str) -> float:
    body = Scenario("cold", 1).body(model)
    started = time.perf_counter()
    async with session.post(target.url, data=body, headers={"authorization": f"Bearer {key}"}) as resp:
        await resp.read()
        if resp.status != 200:
            msg = f"cold-path request failed: {resp.status}"
            raise RuntimeError(msg)
    return (time.perf_counter() - started) * 1000


async def cold_path(target: Target, owner: Owner, count: int) -> dict[str, list[float]]:
    """First request of `count` fresh keys, each on its own fresh integration; then a second request of each."""
    run = time.time_ns()
    fresh: list[tuple[str, str]] = []
    for i in range(count):
        slug = f"cold{run % 100_000}x{i}"
        owner.api.post(
            "/integrations",
            json={
                "provider": "openai",
                "name": slug,
                "slug": slug,
                "credentials": {"api_key": f"sk-bench-{slug}"},
                "models": {"enabled": ["gpt-4o-mini"]},
            },
        ).raise_for_status()
        made = owner.api.post("/api-keys", json={"project_id": owner.project_id, "name": slug})
        made.raise_for_status()
        fresh.append((str(made.json()["key"]), f"@{slug}/gpt-4o-mini"))
    await asyncio.to_thread(settle, target)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as session:
        first = [await _timed_post(session, target, key, model) for key, model in fresh]
        second = [await _timed_post(session, target, key, model) for key, model in fresh]
    return {COLD: [pct(first, 0.5), pct(first, 0.99)], WARM: [pct(second, 0.5), pct(second, 0.99)]}


def stored_records(stack: EmbeddedStack) -> int:
    from pymongo import MongoClient  # noqa: PLC0415

    with MongoClient(stack.mongodb_uri, serverSelectionTimeoutMS=5000) as client:
        return int(client["keyrelay_activity"]["requests"].count_documents({}))


async def activity_throughput(
    stack: EmbeddedStack, target: Target, total: int, concurrency: int
) -> dict[str, list[float]]:
    """`total` requests at `concurrency`; events/s until MongoDB holds all their records."""
    await asyncio.to_thread(settle, target)
    stored_before = await asyncio.to_thread(stored_records, stack)
    cpu_before = process_cpu_s(target.stack["activity"])
    payload = Scenario("burst", concurrency).body(target.model)
    left = total
    headers = {"content-type": "application/json", **target.headers}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with session.post(target.url, data=payload) as resp:
                    await resp.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        answered = time.perf_counter() - began
    stored = stored_before
    deadline = time.perf_counter() + 180
    while stored < stored_before + total and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        stored = await asyncio.to_thread(stored_records, stack)
    drained = time.perf_counter() - began
    events = stored - stored_before
    cpu = process_cpu_s(target.stack["activity"]) - cpu_before
    if events < total:
        print(f"activity stored only {events} of {total} records within 180 s", file=sys.stderr)
    return {
        DRAIN: [events / drained],
        SENT: [total / answered],
        EVENT_CPU: [cpu * 1000 / events if events else float("nan")],
    }


def peer_target(peer: Peer) -> Target:
    pids = {peer.name: peer.proc.pid}
    return Target(peer.name, peer.url, peer.model, peer.headers, pids, dict(pids))


async def run_all(targets: list[Target], plan: list[tuple[Scenario, float]], seconds: float, reps: int) -> list[Runs]:
    out: list[Runs] = []
    for rep in range(reps):
        runs: Runs = {}
        for scenario, share in plan:
            order = targets[rep % len(targets) :] + targets[: rep % len(targets)]
            for target in order:
                runs[(scenario.key, target.name)] = await measure(target, scenario, seconds * share)
            print(f"rep {rep + 1}/{reps}: {scenario.key} done", file=sys.stderr, flush=True)
        out.append(runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peers", action="store_true", help="Keyrelay and the direct baseline only")
    parser.add_argument("--reps", type=int, default=2, help="repetitions; every figure is their median")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    parser.add_argument("--sizes", default="1024,32768,262144", help="prompt sizes in bytes for the growth rows")
    parser.add_argument("--long-chunks", type=int, default=1000, help="chunks of the long stream")
    parser.add_argument("--peers-dir", type=Path, help="install the peers here and keep them (default: a temp dir)")
    parser.add_argument("--gateway-workers", type=int, default=0, help="Keyrelay's granian workers (0: its default)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--only", default="", help="run only these stack figures, comma-separated: cold, activity (no peers)"
    )
    parser.add_argument("--cold-keys", type=int, default=30, help="fresh keys (and integrations) of the cold path")
    parser.add_argument("--events", type=int, default=2000, help="requests of the activity throughput burst")
    args = parser.parse_args()
    only = {o.strip() for o in args.only.split(",") if o.strip()}
    if only - {"cold", "activity"}:
        parser.error("--only takes cold and/or activity")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-") as tmp:
        data_dir = Path(tmp)
        peers_dir = args.peers_dir or data_dir / "peers"
        peers_dir.mkdir(parents=True, exist_ok=True)
        upstream_proc, upstream = start_upstream(data_dir)
        peers: list[Peer] = []
        stack: EmbeddedStack | None = None
        try:
            direct = Target(
                DIRECT,
                f"{upstream}/v1/chat/completions",
                "gpt-4o-mini",
                {"authorization": "Bearer sk"},
                {"upstream": upstream_proc.pid},
                {"upstream": upstream_proc.pid},
            )
            if not args.no_peers and not only:
                peers.append(start_litellm(peers_dir, upstream, data_dir / "litellm.log"))
                peers.append(start_portkey(peers_dir, upstream, data_dir / "portkey.log"))
            stack, keyrelay, owner = start_keyrelay(data_dir, upstream, args.gateway_workers)
            targets = [direct, *(peer_target(p) for p in peers), keyrelay]
            reps: list[Runs] = []
            if not only:
                sampler = MemorySampler(targets)
                sampler.start()
                reps = asyncio.run(run_all(targets, scenarios(sizes, args.long_chunks), args.seconds, args.reps))
                sampler.stopped.set()
            extra: dict[str, list[float]] = {}
            if not only or "cold" in only:
                extra |= asyncio.run(cold_path(keyrelay, owner, args.cold_keys))
            if not only or "activity" in only:
                extra |= asyncio.run(activity_throughput(stack, keyrelay, args.events, 64))
        finally:
            if stack is not None:
                stack.stop()
            for peer in peers:
                peer.stop()
            upstream_proc.terminate()
            upstream_proc.wait()
    text, data = ("", {KEYRELAY: {}}) if only else report(reps, targets, sizes, args.long_chunks)
    data[KEYRELAY].update(extra)
    text += "".join(
        f"\n{label} (Keyrelay): {fmt(tuple(v), 'req/s' if '/s' in label else 'ms')}" for label, v in extra.items()
    )
    versions = "" if args.no_peers or only else f"; peers: {LITELLM}, {PORTKEY} (Node {node_version()})"
    print(f"machine: {machine()}; load average at the end {os.getloadavg()[0]:.1f}{versions}")
    print(f"command: bench.py {' '.join(sys.argv[1:])}")
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "figures": data}, indent=2))
    return 0


def node_version() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return "?"


if __name__ == "__main__":
    sys.exit(main())
