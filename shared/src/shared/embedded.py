"""Run the embedded defaults as child processes: nats-server, SecantusDB, the services.

Used by `keyrelay up` (and so `just up`, the demo) and by the test session. SecantusDB is a GPL
beta: it is only ever started as a separate process (`python -m secantus`), never imported.

Every child runs in its own process group (so a stop reaches its own children too, such as the
gateway's workers) and, on Linux, asks the kernel for SIGTERM when the process that started it
dies (`PR_SET_PDEATHSIG`): however the parent ends, even by SIGKILL, no child is left behind.
Children inherit the environment without its `KEYRELAY_*` variables: each gets exactly the
settings it is given.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
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


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` (run in the child between fork and exec) asking for SIGTERM when the parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def _inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KEYRELAY_")}


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
        """Start (or start again) the process, appending to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.close_log()
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - argv built from our own settings
            list(self.argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**_inherited_env(), **self.env},
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl and getppid, no locks
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
        stop_all([self], timeout_s)

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def stop_all(children: Sequence[Child], timeout_s: float = 10.0) -> None:
    """SIGTERM every child's process group at once, wait together, SIGKILL what is left after `timeout_s`."""
    started = [c for c in children if c.proc is not None]
    for child in started:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for child in started:
        assert child.proc is not None  # noqa: S101 - filtered above
        try:
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.signal(signal.SIGKILL)
            child.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, signal.SIGKILL)  # anything of its group that outlived it
        child.close_log()


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
