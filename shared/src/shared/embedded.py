"""Run the embedded defaults as child processes: nats-server, SecantusDB, the services.

Used by `keyrelay up` (and so `just up`, the demo) and by the test session. SecantusDB is a GPL
beta: it is only ever started as a separate process (`python -m secantus`), never imported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s")


def executable(name: str) -> str:
    """Find a console script next to the running interpreter first (the venv), then on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: install the project's requirements first")
    return found


@dataclass
class Child:
    """One child process with its output in a log file."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> Child:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - argv built from our own settings
            list(self.argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.running and self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def nats_child(*, config_path: Path, log_path: Path) -> Child:
    return Child("nats-server", [executable("nats-server"), "-c", str(config_path)], log_path)


# Where an embedded stack's memory grew under load: SecantusDB's storage cache (1G by default)
# and its oplog (100,000 entries by default; nothing here reads change streams). Bounded here, the
# database holds its hot set in 128 MB and reads the rest from disk (docs/benchmarks.md, soak).
SECANTUS_CACHE = "128M"
SECANTUS_OPLOG_ENTRIES = "10000"


def secantus_child(*, port: int, storage: Path, log_path: Path, auth: bool = False) -> Child:
    storage.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "secantus",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(storage),
        "--sync-on-commit",
        "--cache-size",
        SECANTUS_CACHE,
        "--oplog-max-entries",
        SECANTUS_OPLOG_ENTRIES,
        "--log-level",
        "WARNING",
        *(["--auth"] if auth else []),
    ]
    return Child("secantusdb", argv, log_path)


def service_child(service: str, *, env: Mapping[str, str], log_path: Path) -> Child:
    return Child(service, [sys.executable, "-m", "shared.cli", "serve", service], log_path, env=env)
