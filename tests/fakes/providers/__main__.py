"""`python -m tests.fakes.providers --host 127.0.0.1 --port N [--keys-json '{...}']`; prints `READY <port>`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.fakes.providers.harness import keys_from_json
from tests.fakes.providers.server import run_fake_providers


async def serve(host: str, port: int, keys_json: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_fake_providers(keys_from_json(keys_json), host=host, port=port) as fake:
        print(f"READY {fake.port}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.providers", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--keys-json", default="", help='{"openai": ["sk-..."], "anthropic": ["sk-ant-..."]}')
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.keys_json))


if __name__ == "__main__":
    main()
