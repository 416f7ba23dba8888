"""`just soak`: a bounded soak at a fixed request rate, sampling the RSS of every process of the stack.

Starts a complete stack on free loopback ports with the fake providers (as `just bench` does),
sends `--rate` requests per second (half JSON, half streamed chat completions) for `--duration`
seconds, and every `--sample-s` seconds reads the resident memory of each process (nats-server,
SecantusDB, the four services and the gateway's granian workers, the fake provider) from /proc.
Prints the samples and, per process, the growth over the run after the warm-up, plus how many
requests failed. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from bench import machine, setup_org
from devstack import DevStack, start

from shared.embedded import free_port

LOAD_SIDE = {"fake-providers"}  # the test double: records every request it gets, by design
BODY = {"model": "@bench/gpt-4o-mini", "messages": [{"role": "user", "content": "soak me, a short answer"}]}


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (granian's workers under the gateway's root)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def processes(dev: DevStack) -> dict[str, list[int]]:
    named = {name: child.proc.pid for name, child in dev.stack.children.items() if child.proc is not None}
    if dev.fake.proc is not None:
        named["fake-providers"] = dev.fake.proc.pid
    return {name: descendants(pid) for name, pid in named.items()}


def sample(dev: DevStack) -> dict[str, float]:
    return {name: round(sum(rss_mb(p) for p in pids), 1) for name, pids in processes(dev).items()}


@dataclass
class Load:
    sent: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


async def one(session: aiohttp.ClientSession, url: str, stream: bool, load: Load) -> None:
    try:
        async with session.post(url, json={**BODY, "stream": stream}) as resp:
            body = await resp.read()
            ok = resp.status == 200 and (not stream or body.rstrip().endswith(b"[DONE]"))
            key = str(resp.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        ok, key = False, type(exc).__name__
    load.statuses[key] = load.statuses.get(key, 0) + 1
    if not ok:
        load.failed += 1


async def soak(
    dev: DevStack, api_key: str, rate: float, duration_s: float, sample_s: float
) -> tuple[list[tuple[float, dict[str, float]]], Load]:
    url = f"{dev.stack.gateway_url}/v1/chat/completions"
    load = Load()
    samples: list[tuple[float, dict[str, float]]] = []
    pending: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        headers={"authorization": f"Bearer {api_key}"}, timeout=timeout, connector=aiohttp.TCPConnector(limit=256)
    ) as session:
        began = time.monotonic()
        next_sample = began
        while (now := time.monotonic()) - began < duration_s:
            if now >= next_sample:
                samples.append((round(now - began), await asyncio.to_thread(sample, dev)))
                print(json.dumps({"t": samples[-1][0], "failed": load.failed, **samples[-1][1]}), flush=True)
                next_sample += sample_s
            task = asyncio.create_task(one(session, url, load.sent % 2 == 1, load))
            pending.add(task)
            task.add_done_callback(pending.discard)
            load.sent += 1
            await asyncio.sleep(max(0.0, began + load.sent / rate - time.monotonic()))
        await asyncio.gather(*pending)
        samples.append((round(time.monotonic() - began), await asyncio.to_thread(sample, dev)))
    return samples, load


def report(samples: list[tuple[float, dict[str, float]]], load: Load, warmup_s: float, args: argparse.Namespace) -> str:
    base_t, base = next(((t, s) for t, s in samples if t >= warmup_s), samples[0])
    end_t, end = samples[-1]
    lines = [
        f"machine: {machine()}",
        (
            f"{load.sent} requests at {args.rate:g}/s for {args.duration:g} s (half JSON, half streams): "
            f"{load.failed} failed; statuses {load.statuses}"
        ),
        f"RSS in MB, after {base_t:g} s of warm-up and at the end ({end_t:g} s):",
        "",
        "| process | after warm-up | end | growth | growth per 10 min |",
        "|---|---|---|---|---|",
    ]
    span_min = max((end_t - base_t) / 600, 1e-9)
    for name in end:
        growth = end[name] - base.get(name, 0.0)
        lines.append(
            f"| {name} | {base.get(name, 0):.1f} | {end[name]:.1f} | {growth:+.1f} | {growth / span_min:+.1f} |"
        )
    stack = [name for name in end if name not in LOAD_SIDE]
    total_base, total_end = sum(base.get(n, 0.0) for n in stack), sum(end[n] for n in stack)
    growth = total_end - total_base
    lines.append(
        f"| **stack** (without the fake provider) | {total_base:.1f} | {total_end:.1f} | {growth:+.1f} "
        f"| {growth / span_min:+.1f} |"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--sample-s", type=float, default=15.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline sample")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="keyrelay-soak-"))
    dev = start(data_dir, free_port())
    try:
        api_key = setup_org(dev.info(), data_dir)
        samples, load = asyncio.run(soak(dev, api_key, args.rate, args.duration, args.sample_s))
    finally:
        dev.stop()
    print(report(samples, load, args.warmup, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
