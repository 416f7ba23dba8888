"""`keyrelay up` supervises its children: a part killed with SIGKILL comes back by itself within
seconds (with a log line saying why), a dead gateway worker is replaced while the other keeps
answering, and `keyrelay doctor` and `/readyz` say what is down."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from shared.embedded import free_port
from tests.conftest import FakeServer
from tests.e2e.upstack import UpProcess, descendants, openai_app_key, run_in, start_up

pytestmark = pytest.mark.timeout(180)
RESTART_LIMIT_S = 8.0


class Supervised:
    def __init__(self, up: UpProcess, api_key: str) -> None:
        self.up = up
        self.api_key = api_key
        self.gateway = str(up.stack_file()["gateway_url"])

    def child(self, name: str) -> dict[str, object]:
        return self.up.stack_file()["children"][name]  # type: ignore[no-any-return]

    def wait_restarted(self, name: str, old_pid: int) -> float:
        began = time.monotonic()
        while time.monotonic() - began < RESTART_LIMIT_S:
            child = self.child(name)
            if child["pid"] != old_pid and child["state"] == "running":
                return time.monotonic() - began
            time.sleep(0.1)
        raise AssertionError(f"{name} not restarted after {RESTART_LIMIT_S}s:\n{self.up.output[-3000:]}")

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.gateway}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready after {timeout_s}s")

    def complete(self) -> str:
        sdk = openai.OpenAI(base_url=f"{self.gateway}/v1", api_key=self.api_key, max_retries=2)
        answer = sdk.chat.completions.create(model="@openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        return answer.choices[0].message.content or ""

    def doctor(self) -> subprocess.CompletedProcess[str]:
        return run_in(self.up.data_dir, [sys.executable, "-m", "shared.cli", "doctor"])


@pytest.fixture(scope="module")
def supervised(fake: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    data_dir = tmp_path_factory.mktemp("supervised")
    up = start_up(
        data_dir,
        KEYRELAY_HTTP_PORT=str(free_port()),
        KEYRELAY_HTTP_WORKERS="2",
        KEYRELAY_PROVIDER_BASE_URLS=json.dumps(fake.base_urls()),
        KEYRELAY_UPSTREAM_ALLOW="127.0.0.1/32",
    )
    try:
        argv = [sys.executable, "-m", "shared.cli", "bootstrap", "--org", "Sup", "--owner-email", "o@example.com"]
        booted = run_in(data_dir, argv)
        assert booted.returncode == 0, booted.stderr
        owner_info = json.loads(booted.stdout)
        key = openai_app_key(up.stack_file()["gateway_url"], owner_info["owner_token"], owner_info["project_id"], "sup")
        yield Supervised(up, key)
    finally:
        up.kill()


@pytest.mark.parametrize("name", ["activity", "keyvault", "catalog", "nats"])
def test_a_part_killed_with_sigkill_is_restarted_within_seconds_with_a_log_line(
    supervised: Supervised, name: str
) -> None:
    old_pid = int(supervised.child(name)["pid"])  # type: ignore[call-overload]
    os.kill(old_pid, signal.SIGKILL)
    took = supervised.wait_restarted(name, old_pid)
    assert took < RESTART_LIMIT_S
    assert re.search(rf"supervisor.child_exited .*child={name} .*reason='killed by SIGKILL'", supervised.up.output)
    assert re.search(rf"supervisor.restarted .*child={name} ", supervised.up.output)
    supervised.wait_ready()
    assert supervised.complete() == "echo: hi"
    child = supervised.child(name)
    assert child["restarts"] == 1
    assert child["last_exit"] == "killed by SIGKILL"


def test_a_killed_gateway_worker_is_replaced_and_the_gateway_keeps_answering(supervised: Supervised) -> None:
    """Two workers: the survivor takes every new connection while granian respawns the dead one."""
    root = int(supervised.child("gateway")["pid"])  # type: ignore[call-overload]
    workers = descendants(root)
    assert len(workers) == 2
    os.kill(min(workers), signal.SIGKILL)
    answered = failed = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        try:  # a new connection per request, as a fresh client would open
            status = httpx.get(f"{supervised.gateway}/healthz", timeout=2).status_code
        except httpx.HTTPError:
            status = 0
        answered, failed = (answered + 1, failed) if status == 200 else (answered, failed + 1)
        time.sleep(0.02)
    assert failed == 0, f"{failed} of {answered + failed} requests failed while a worker was down"
    assert int(supervised.child("gateway")["pid"]) == root  # type: ignore[call-overload]
    replaced = descendants(root)
    assert len(replaced) == 2
    assert min(workers) not in replaced
    assert supervised.complete() == "echo: hi"


def test_a_killed_gateway_is_restarted_by_the_supervisor(supervised: Supervised) -> None:
    old_pid = int(supervised.child("gateway")["pid"])  # type: ignore[call-overload]
    workers = descendants(old_pid)
    os.kill(old_pid, signal.SIGKILL)
    supervised.wait_restarted("gateway", old_pid)
    supervised.wait_ready()
    assert supervised.complete() == "echo: hi"
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "the old gateway's workers outlived it"


def test_doctor_and_readyz_say_what_is_down(supervised: Supervised) -> None:
    """A paused keyvault (alive, not answering): /readyz names it, doctor fails on it; both recover."""
    pid = int(supervised.child("keyvault")["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGSTOP)
    try:
        ready = httpx.get(f"{supervised.gateway}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["keyvault"] == "unavailable"
        doctor = supervised.doctor()
        assert doctor.returncode == 1
        assert re.search(r"FAIL\s+keyvault", doctor.stdout), doctor.stdout
        assert re.search(r"FAIL\s+gateway\s+.*down: keyvault", doctor.stdout), doctor.stdout
        assert re.search(r"ok\s+process keyvault", doctor.stdout), doctor.stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    supervised.wait_ready()
    assert supervised.doctor().returncode == 0
