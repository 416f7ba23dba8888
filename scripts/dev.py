"""`just up` (foreground, Ctrl-C stops all; `--background` detaches) and `just down`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack import ROOT, start

from shared.runner import wait_for_stop_signal

DATA = Path(os.environ.get("KEYRELAY_DATA_DIR", ROOT / ".keyrelay"))
PID = DATA / "stack.pid"


def up(port: int, background: bool) -> int:
    if background:
        DATA.mkdir(parents=True, exist_ok=True)
        log = (DATA / "stack.out").open("ab")
        proc = subprocess.Popen(
            [sys.executable, __file__, "up", "--port", str(port)],
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=ROOT,
        )
        PID.write_text(str(proc.pid))
        for _ in range(600):
            if (DATA / "stack.json").exists() and (DATA / "stack.json").stat().st_mtime > time.time() - 120:
                print(f"Keyrelay is up in the background (pid {proc.pid}); `just down` stops it.")
                return 0
            if proc.poll() is not None:
                print(f"the stack failed to start; see {DATA / 'stack.out'}", file=sys.stderr)
                return 1
            time.sleep(0.1)
        return 1
    (DATA / "stack.json").unlink(missing_ok=True)
    dev = start(DATA, port, nats_port=4222, mongo_port=27017)
    try:
        info = dev.info()
        print(f"Keyrelay is up: gateway {info['gateway_url']}  (Ctrl-C stops everything)")
        print(f"  nats {info['nats_url']}  mongodb {info['mongodb_uri']}  fake providers {info['fake_root']}")
        print(f"  logs in {info['logs']};  try: just demo")
        sys.stdout.flush()
        asyncio.run(wait_for_stop_signal())
    finally:
        dev.stop()
        (DATA / "stack.json").unlink(missing_ok=True)
    return 0


def down() -> int:
    if not PID.exists():
        print("no background stack is running")
        return 0
    pid = int(PID.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            os.kill(pid, 0)
            time.sleep(0.1)
    except ProcessLookupError:
        pass
    PID.unlink(missing_ok=True)
    print("stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--port", type=int, default=8080)
    p_up.add_argument("--background", action="store_true")
    sub.add_parser("down")
    args = parser.parse_args()
    return up(args.port, args.background) if args.cmd == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
