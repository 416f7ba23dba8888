"""Drive `just up` / `./run up` as a user would: a real subprocess, its output, its process tree."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import PROVIDER_KEY

ROOT = Path(__file__).resolve().parents[2]
JUST = str(Path(sys.executable).parent / "just")
START_TIMEOUT_S = 90.0  # a few seconds on an idle machine; generous for a loaded 2-core CI runner
STOP_LIMIT_S = 10.0


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any `KEYRELAY_*` variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRELAY_")}
    return {**env, **extra}


def run_in(
    data_dir: Path, argv: list[str], *, timeout: float = 60, **settings: str
) -> subprocess.CompletedProcess[str]:
    """`argv` run from the checkout as a user would, with only the data directory (and `settings`) set."""
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=clean_env(KEYRELAY_DATA_DIR=str(data_dir), KEYRELAY_ENV_FILE=os.devnull, **settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def openai_app_key(gateway: str, owner_token: str, project_id: str, name: str) -> str:
    """As the owner: an OpenAI integration (the fake's key) serving gpt-4o-mini, and an API key for an app."""
    owner = httpx.Client(base_url=f"{gateway}/api/v1", headers={"authorization": f"Bearer {owner_token}"}, timeout=30)
    created = owner.post(
        "/integrations",
        json={
            "provider": "openai",
            "name": "OpenAI",
            "slug": "openai",
            "credentials": {"api_key": PROVIDER_KEY},
            "models": {"enabled": ["gpt-4o-mini"]},
        },
    )
    assert created.status_code == 201, created.text
    key: str = owner.post("/api-keys", json={"project_id": project_id, "name": name}).json()["key"]
    return key


def _ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def descendants(root: int) -> set[int]:
    """Every live process below `root` (children, their workers, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _ppid_and_state(int(entry.name))
            if found is not None and found[1] != "Z":
                parents.setdefault(found[0], []).append(int(entry.name))
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        found = _ppid_and_state(pid)
        if found is not None and found[1] != "Z":
            out.add(pid)
    return out


def describe(pids: set[int]) -> list[str]:
    """`pid: command line` of each process, for assertion messages."""
    out = []
    for pid in sorted(pids):
        try:
            out.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_text().replace(chr(0), ' ')[:120]}")
        except OSError:
            out.append(f"{pid}: (gone)")
    return out


def wait_gone(pids: set[int], timeout_s: float) -> tuple[set[int], float]:
    """(processes still alive after `timeout_s`, seconds it took for all to end)."""
    started = time.monotonic()
    while alive(pids) and time.monotonic() - started < timeout_s:
        time.sleep(0.05)
    return alive(pids), time.monotonic() - started


@dataclass
class UpProcess:
    """`just up` (or any command line) started in its own session, as a terminal would run it."""

    argv: list[str]
    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    startup_s: float = 0.0

    def start(self) -> UpProcess:
        began = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        while not any(line.startswith("  next ") for line in self.lines):  # the banner's last line
            if self.proc.poll() is not None or time.monotonic() - began > START_TIMEOUT_S:
                self.kill()
                raise AssertionError("the stack did not come up:\n" + self.output)
            time.sleep(0.1)
        self.startup_s = time.monotonic() - began
        return self

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stack_file(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "stack.json").read_text())  # type: ignore[no-any-return]

    def tree(self) -> set[int]:
        assert self.proc is not None
        return descendants(self.proc.pid) | {self.proc.pid}

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)

    def kill(self) -> None:
        """Clean up after a failed test: everything below the session leader, then the leader."""
        if self.proc is None:
            return
        for pid in self.tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def start_up(data_dir: Path, argv: list[str] | None = None, **settings: str) -> UpProcess:
    env = clean_env(KEYRELAY_DATA_DIR=str(data_dir), KEYRELAY_ENV_FILE=os.devnull, **settings)
    return UpProcess(argv or [JUST, "up"], env, data_dir).start()
