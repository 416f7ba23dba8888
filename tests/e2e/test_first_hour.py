"""The first hour of a new owner: `just up` runs the real stack on the given settings, the CLI finds
it through the data dir, the README's quick start works as written, and stopping (Ctrl-C, TERM, or
the parent killed with SIGKILL) leaves no process behind.

The stack here is started by `just up` itself (not the session fixture); only the providers are
the fakes, reached because `KEYRELAY_PROVIDER_BASE_URLS` says so, as a user could say it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
from pathlib import Path

import openai
import pytest

from shared.embedded import free_port
from tests.conftest import PROVIDER_KEY, FakeServer
from tests.e2e.upstack import (
    JUST,
    ROOT,
    STOP_LIMIT_S,
    UpProcess,
    clean_env,
    descendants,
    describe,
    openai_app_key,
    run_in,
    start_up,
    wait_gone,
)

pytestmark = pytest.mark.timeout(240)


def _provider_settings(fake: FakeServer) -> dict[str, str]:
    return {
        "KEYRELAY_PROVIDER_BASE_URLS": json.dumps(fake.base_urls()),
        "KEYRELAY_UPSTREAM_ALLOW": "127.0.0.1/32",
    }


def _cli_bootstrap(data_dir: Path, org: str) -> subprocess.CompletedProcess[str]:
    """`just bootstrap` with no NATS or operator setting at all: only where the data lives."""
    return run_in(data_dir, [JUST, "bootstrap", "--org", org, "--owner-email", "owner@example.com"])


def _a_completion_through_the_fake(gateway: str, owner_token: str, project_id: str, fake: FakeServer) -> None:
    key = openai_app_key(gateway, owner_token, project_id, "app")
    prompt = f"first hour {secrets.token_hex(4)}"
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0)
    answer = sdk.chat.completions.create(model="@openai/gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert answer.choices[0].message.content == f"echo: {prompt}"
    assert any(prompt in str(r.get("body")) for r in fake.requests()), "the completion did not reach the fake"


def test_just_up_serves_on_the_given_settings_the_cli_finds_it_and_ctrl_c_leaves_no_process(
    fake: FakeServer, tmp_path: Path
) -> None:
    """HTTP port from `.env`, provider base URLs from the environment; bootstrap with no NATS
    settings; a completion; Ctrl-C stops every process in under 10 s and removes the stack file."""
    port = free_port()
    env_file = tmp_path / "settings.env"
    env_file.write_text(f"KEYRELAY_HTTP_PORT={port}\nKEYRELAY_LOG_FORMAT=json\n")
    data_dir = tmp_path / "data"
    up = UpProcess(
        [JUST, "up"],
        clean_env(KEYRELAY_DATA_DIR=str(data_dir), KEYRELAY_ENV_FILE=str(env_file), **_provider_settings(fake)),
        data_dir,
    )
    try:
        up.start()
        gateway = f"http://127.0.0.1:{port}"
        assert f"Keyrelay is up: {gateway}" in up.output
        assert str(data_dir.resolve()) in up.output
        assert "./run bootstrap" in up.output
        assert "KEYRELAY_PROVIDER_BASE_URLS" in up.output  # the banner says the providers are overridden
        assert stat.S_IMODE((data_dir / "stack.json").stat().st_mode) == 0o600
        first_line = (data_dir / "logs" / "catalog.log").read_text().splitlines()[0]
        assert json.loads(first_line)["service"] == "catalog"  # KEYRELAY_LOG_FORMAT=json, from the .env file

        booted = _cli_bootstrap(data_dir, "Acme")
        assert booted.returncode == 0, booted.stderr
        owner = json.loads(booted.stdout)
        assert set(owner) == {"org_id", "owner_token", "project_id"}
        assert len(booted.stderr.strip().splitlines()) == 1
        assert gateway in booted.stderr
        _a_completion_through_the_fake(gateway, owner["owner_token"], owner["project_id"], fake)

        processes = up.tree()
        assert len(processes) >= 8  # just, keyrelay up, nats, mongo, four services (and gateway workers)
        up.ctrl_c()
        left, took = wait_gone(processes, STOP_LIMIT_S)
        assert not left, f"still running after Ctrl-C: {describe(left)}"
        assert took < STOP_LIMIT_S
        assert re.search(r"Keyrelay stopped: every process ended in [0-9.]+ s", up.output)
        assert not (data_dir / "stack.json").exists()
    finally:
        up.kill()


def test_every_child_exits_when_keyrelay_up_is_killed_with_sigkill(fake: FakeServer, tmp_path: Path) -> None:
    """No cleanup code runs in a SIGKILLed parent: the children notice its death and exit by themselves."""
    data_dir = tmp_path / "data"
    up = start_up(data_dir, KEYRELAY_HTTP_PORT=str(free_port()), **_provider_settings(fake))
    try:
        booted = _cli_bootstrap(data_dir, "Killed Inc")
        assert booted.returncode == 0, booted.stderr
        owner = json.loads(booted.stdout)
        _a_completion_through_the_fake(up.stack_file()["gateway_url"], owner["owner_token"], owner["project_id"], fake)
        processes = up.tree()
        os.kill(up.stack_file()["pid"], signal.SIGKILL)
        left, _ = wait_gone(processes, STOP_LIMIT_S)
        assert not left, f"orphans after SIGKILL of keyrelay up: {describe(left)}"
        # the stack file stayed behind, but the CLI sees its writer is dead and says so
        stale = _cli_bootstrap(data_dir, "After")
        assert stale.returncode == 2
        assert "no Keyrelay stack is running" in stale.stderr
    finally:
        up.kill()


def test_the_cli_with_no_stack_says_in_one_line_how_to_start_one_and_exits_2(tmp_path: Path) -> None:
    result = _cli_bootstrap(tmp_path / "empty", "Nobody")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "./run up" in line
    assert "KEYRELAY_NATS_URL" in line
    assert "Traceback" not in result.stderr


def test_explicit_nats_settings_win_over_the_stack_file(tmp_path: Path) -> None:
    """With `KEYRELAY_NATS_URL` given, the CLI talks to that server (here: nothing) and says so, exit 2."""
    dead = f"nats://127.0.0.1:{free_port()}"
    argv = [JUST, "bootstrap", "--org", "X", "--owner-email", "x@example.com"]
    result = run_in(tmp_path, argv, KEYRELAY_NATS_URL=dead)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert dead in line
    assert "Traceback" not in result.stderr


def _quick_start_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start with your own provider key", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_quick_start_works_as_written(fake: FakeServer, tmp_path: Path) -> None:
    """Every command of the README's quick start, verbatim but for the gateway's address (a free
    port instead of 8080); the provider is the fake, set through `KEYRELAY_PROVIDER_BASE_URLS`.
    Then TERM to `./run up` stops every process in under 10 s."""
    first, *rest = _quick_start_blocks()
    assert first.strip() == "./run up"
    assert rest, "the quick start has no commands after ./run up"
    port = free_port()
    data_dir = tmp_path / "data"
    up = start_up(data_dir, ["bash", "-c", first], KEYRELAY_HTTP_PORT=str(port), **_provider_settings(fake))
    try:
        *commands, read_record = rest
        # the record is written a moment after the answer: a person types the last command later,
        # the test repeats it (verbatim) for a few seconds until the record is there
        script = "\n".join(
            [
                *commands,
                "for _ in $(seq 50); do",
                f"RECORD=$({read_record.strip()})",
                """echo "$RECORD" | grep -q '"request_id"' && break; sleep 0.2""",
                'done; echo "$RECORD"',
            ]
        ).replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}")
        result = run_in(data_dir, ["bash", "-euo", "pipefail", "-c", script], timeout=120, OPENAI_API_KEY=PROVIDER_KEY)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "echo: Say hello in five words." in result.stdout
        record = json.loads(result.stdout.strip().splitlines()[-1])["data"][0]
        assert record["integration"] == "openai"
        assert record["status"] == 200
        assert PROVIDER_KEY not in result.stdout + result.stderr
        # TERM (a service manager, `kill`) reaches `keyrelay up` through `./run` and `just`
        processes = up.tree()
        assert up.proc is not None
        up.proc.send_signal(signal.SIGTERM)
        left, took = wait_gone(processes, STOP_LIMIT_S)
        assert not left, f"still running after TERM: {describe(left)}"
        assert took < STOP_LIMIT_S
    finally:
        up.kill()


def test_just_up_in_the_background_returns_once_ready_and_just_down_stops_everything(
    fake: FakeServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(
        KEYRELAY_DATA_DIR=str(data_dir),
        KEYRELAY_ENV_FILE=os.devnull,
        KEYRELAY_HTTP_PORT=str(free_port()),
        **_provider_settings(fake),
    )
    started = subprocess.run(
        [JUST, "up", "--background"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    stack_pid = 0
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Keyrelay is up in the background" in started.stdout
        stack_pid = json.loads((data_dir / "stack.json").read_text())["pid"]
        processes = descendants(stack_pid) | {stack_pid}
        booted = _cli_bootstrap(data_dir, "Background")
        assert booted.returncode == 0, booted.stderr
        stopped = subprocess.run(
            [JUST, "down"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        left, took = wait_gone(processes, STOP_LIMIT_S)
        assert not left, f"still running after just down: {describe(left)}"
        assert took < STOP_LIMIT_S
        again = subprocess.run(
            [JUST, "down"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert again.returncode == 0
        assert "no Keyrelay stack is running" in again.stdout
    finally:
        if stack_pid:
            for pid in descendants(stack_pid) | {stack_pid}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_just_up_on_a_port_in_use_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_in(tmp_path, [JUST, "up"], KEYRELAY_HTTP_PORT=str(port))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port} is already in use" in line
    assert "KEYRELAY_HTTP_PORT" in line
