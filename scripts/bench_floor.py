"""`just bench-floor`: the CPU per request this stack cannot go below, next to the gateway's own.

Four servers get the same non-streamed chat completions (the load generator, scenarios and
CPU-from-/proc of `scripts/bench.py`), one after the other, repeated, medians printed:

* `asgi`: a bare ASGI callable on granian, reading the body and answering fixed JSON (granian's floor);
* `litestar`: the same answer from a hello-world Litestar app (one `@post` route, no middleware);
* `litestar+aiohttp`: that app making one aiohttp request to the fake upstream
  (`scripts/bench_upstream.py`) per request and answering its body (the floor of a relay);
* `gateway`: the real gateway with its whole stack (auth, routing, keyvault, activity record).

Every app is served like the gateway (`gateway.main.serve`): granian, ASGI interface, uvloop, one
worker, factory target, no access log. Only the server process is counted (its CPU with its
children's); for the gateway the rest of its stack (NATS, activity, database) is printed apart.
The upstream's own CPU is not counted in any column.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import bench
from litestar import Litestar, Request, Response, post

from shared.embedded import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
APPS = ("asgi", "litestar", "litestar+aiohttp")
ANSWER = json.dumps(
    {
        "id": "chatcmpl-floor",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
    }
).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


# --- the apps (granian imports this module in its worker: `bench_floor:<factory>`) ----------------
def asgi_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": ANSWER})

    return app


def litestar_app() -> Any:
    @post("/v1/chat/completions", status_code=200)
    async def chat(request: Request[Any, Any, Any]) -> Response[bytes]:
        await request.body()
        return Response(ANSWER, media_type="application/json")

    return Litestar(route_handlers=[chat], debug=False)


def litestar_aiohttp_app() -> Any:
    upstream = os.environ["BENCH_FLOOR_UPSTREAM"] + "/v1/chat/completions"
    holder: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        holder["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        try:
            yield
        finally:
            await holder["session"].close()

    @post("/v1/chat/completions", status_code=200)
    async def chat(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        headers = {"authorization": "Bearer floor", "content-type": "application/json"}
        async with holder["session"].post(upstream, data=body, headers=headers) as resp:
            answer = await resp.read()
        return Response(answer, status_code=resp.status, media_type="application/json")

    return Litestar(route_handlers=[chat], lifespan=[lifespan], debug=False)


FACTORIES = {"asgi": "asgi_app", "litestar": "litestar_app", "litestar+aiohttp": "litestar_aiohttp_app"}


def serve(app: str, port: int) -> None:
    """Serve one app the way `gateway.main.serve` serves the gateway (one worker)."""
    from granian import Granian  # noqa: PLC0415
    from granian.constants import Interfaces, Loops  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415

    Granian(
        f"bench_floor:{FACTORIES[app]}",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop,
        factory=True,
        log_access=False,
        log_level=LogLevels.warning,
    ).serve()


# --- the run ----------------------------------------------------------------------------------------
def start_app(app: str, upstream: str, log: Path) -> tuple[subprocess.Popen[bytes], bench.Target]:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_FLOOR_UPSTREAM": upstream,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", app, "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    wait_for_port(port, proc=proc)
    pids = {app: proc.pid}
    return proc, bench.Target(app, f"http://127.0.0.1:{port}/v1/chat/completions", "gpt-4o-mini", {}, pids, pids)


async def run(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    scenarios = [
        bench.Scenario("c1", 1, max_requests=args.requests),
        bench.Scenario("c16", 16, max_requests=args.requests * 2),
    ]
    figures: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="keyrelay-bench-floor-") as tmp:
        data_dir = Path(tmp)
        upstream_proc, upstream = bench.start_upstream(data_dir)
        servers: list[tuple[bench.Target, Any]] = []
        try:
            for app in APPS:
                proc, target = start_app(app, upstream, data_dir / f"{app}.log")
                servers.append((target, proc))
            stack, gateway, _ = bench.start_keyrelay(data_dir, upstream, 1)
            servers.append((gateway, stack))
            for target, _ in servers:
                await bench.load(target, bench.Scenario("warm", 8, max_requests=300), 30)
            for rep in range(args.reps):
                for scenario in scenarios:
                    for target, _ in servers:
                        m = await bench.measure(target, scenario, 600)
                        row = figures.setdefault(f"{scenario.key} {target.name}", {})
                        per = 1000 / max(1, m.cpu_requests)  # the warm-up's requests are in the CPU too
                        row.setdefault("cpu_ms", []).append(m.cpu_gateway_s * per)
                        row.setdefault("stack_ms", []).append((m.cpu_stack_s - m.cpu_gateway_s) * per)
                        row.setdefault("p50", []).append(bench.pct(m.latencies_ms, 0.5))
                        row.setdefault("errors", []).append(m.errors)
                print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr, flush=True)
        finally:
            for target, handle in servers:
                if isinstance(handle, subprocess.Popen):
                    handle.terminate()
                    handle.wait()
                else:
                    handle.stop()
                del target
            upstream_proc.terminate()
            upstream_proc.wait()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests at concurrency 1 (twice that at 16)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)  # internal: serve one app
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port)
        return 0
    figures = asyncio.run(run(args))
    print(f"\n{bench.machine()}; {args.reps} repetitions, medians; load average {os.getloadavg()[0]:.1f}\n")
    print("| scenario | server | CPU ms per request (server) | rest of the stack | p50 ms | errors |")
    print("|---|---|---:|---:|---:|---:|")
    for key, row in figures.items():
        scenario, name = key.split(" ", 1)
        cpu, rest, p50 = (statistics.median(row[k]) for k in ("cpu_ms", "stack_ms", "p50"))
        print(f"| {scenario} | {name} | {cpu:.3f} | {rest:.3f} | {p50:.2f} | {sum(row['errors']):.0f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
