"""Claude Code (the npm package, run non-interactively with `-p`) with ANTHROPIC_BASE_URL at the
gateway and a Keyrelay API key: on its default model (a bare Claude model name) and on another
provider's model through a virtual model named like a Claude model. Claude Code always streams.

Telemetry, updates, error reports and other non-essential traffic are off, HOME is a fresh temp
dir, and HTTP(S)_PROXY points to a closed loopback port (NO_PROXY=127.0.0.1), so the only place
it can reach is the gateway."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients.conftest import (
    ANTHROPIC_MODEL,
    ANTHROPIC_SLUG,
    ECHO,
    OPENAI_MODEL,
    OPENAI_SLUG,
    Caller,
    ClientsOrg,
)

# the model Claude Code 2.1.332 (tests/e2e/clients/package.json) picks when none is given
DEFAULT_MODEL = "claude-opus-5-5"
# a Claude model name a user selects with `--model` (or ANTHROPIC_MODEL) for a virtual model of that name
ALIAS = "claude-sonnet-4-6"
RUN_TIMEOUT_S = 60
TOOL_PROMPT = "please call tool Read"


@dataclass
class ClaudeRun:
    events: list[dict[str, Any]]

    @property
    def model(self) -> str:
        init = next(e for e in self.events if e.get("type") == "system" and e.get("subtype") == "init")
        return str(init["model"])

    @property
    def result(self) -> dict[str, Any]:
        return next(e for e in self.events if e.get("type") == "result")

    @property
    def answer(self) -> str:
        result = self.result
        assert not result["is_error"], result.get("result")
        return str(result["result"])

    @property
    def tools_used(self) -> list[str]:
        return [
            block["name"]
            for e in self.events
            if e.get("type") == "assistant"
            for block in e["message"]["content"]
            if block.get("type") == "tool_use"
        ]


def run_claude(
    claude: str, caller: Caller, tmp_path: Path, prompt: str, *args: str, credential: str = "ANTHROPIC_API_KEY"
) -> ClaudeRun:
    """One `claude -p` run; `credential` is ANTHROPIC_API_KEY (sent as x-api-key) or ANTHROPIC_AUTH_TOKEN
    (sent as a bearer token)."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": caller.stack.gateway_url,
        credential: caller.key,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # set by the autouse `no_egress` fixture: a closed loopback port, loopback exempt
        **{k: os.environ[k] for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")},
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    done = subprocess.run(
        [claude, "-p", prompt, "--output-format", "stream-json", "--verbose", *args],
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("type") == "result" for e in events), (done.returncode, done.stderr[-2000:])
    return ClaudeRun(events)


@pytest.fixture(scope="module", autouse=True)
def installed(claude: str) -> None:
    """Skip (or fail in CI) before anything starts when Claude Code is not installed."""


@pytest.fixture(scope="module")
def default_model_enabled(clients_org: ClientsOrg) -> None:
    """The Anthropic integration enables Claude Code's default model from the catalog."""
    clients_org.enable(ANTHROPIC_SLUG, DEFAULT_MODEL, [ANTHROPIC_MODEL, "claude-haiku-4-5"])


@pytest.fixture(scope="module")
def elsewhere(clients_org: ClientsOrg) -> str:
    """A project whose Claude model names are virtual models served by OpenAI."""
    project_id = clients_org.project("claude-code-on-openai")
    for name in (ALIAS, DEFAULT_MODEL):
        clients_org.virtual_model(name, f"@{OPENAI_SLUG}/{OPENAI_MODEL}", project_id)
    return project_id


def assert_records(caller: Caller, slug: str, count: int, requested: str) -> list[dict[str, Any]]:
    docs = caller.assert_served_by(slug, count, streamed=count)
    assert {d["model_requested"] for d in docs} == {requested}
    return docs


@pytest.mark.usefixtures("default_model_enabled")
def test_claude_code_answers_on_its_default_model_through_the_gateway(
    claude: str, clients_org: ClientsOrg, tmp_path: Path
) -> None:
    caller = clients_org.caller()
    run = run_claude(claude, caller, tmp_path, "hello from claude code")
    assert run.model == DEFAULT_MODEL
    assert run.answer.startswith(ECHO)
    assert run.answer.endswith("hello from claude code")
    assert_records(caller, ANTHROPIC_SLUG, 1, DEFAULT_MODEL)


@pytest.mark.usefixtures("default_model_enabled")
def test_claude_code_uses_a_tool_on_its_default_model_through_the_gateway(
    claude: str, clients_org: ClientsOrg, tmp_path: Path
) -> None:
    """The fake asks for the Read tool; Claude Code runs it and sends the result back in a second turn."""
    caller = clients_org.caller()
    run = run_claude(claude, caller, tmp_path, TOOL_PROMPT, "--tools", "Read")
    assert run.tools_used == ["Read"]
    assert run.result["num_turns"] == 2
    assert run.answer.startswith(ECHO)
    assert_records(caller, ANTHROPIC_SLUG, 2, DEFAULT_MODEL)


def test_claude_code_reaches_another_provider_through_a_virtual_model_named_like_a_claude_model(
    claude: str, clients_org: ClientsOrg, elsewhere: str, tmp_path: Path
) -> None:
    caller = clients_org.caller(elsewhere)
    run = run_claude(claude, caller, tmp_path, "hello from claude code", "--model", ALIAS)
    assert run.model == ALIAS
    assert run.answer.startswith(ECHO)
    assert run.answer.endswith("hello from claude code")
    (doc,) = assert_records(caller, OPENAI_SLUG, 1, ALIAS)
    assert (doc["virtual_model"], doc["model_served"]) == (ALIAS, OPENAI_MODEL)


def test_claude_code_uses_a_tool_on_another_provider_through_a_virtual_model(
    claude: str, clients_org: ClientsOrg, elsewhere: str, tmp_path: Path
) -> None:
    """With the key in ANTHROPIC_AUTH_TOKEN (a bearer token) instead of ANTHROPIC_API_KEY."""
    caller = clients_org.caller(elsewhere)
    run = run_claude(
        claude, caller, tmp_path, TOOL_PROMPT, "--model", ALIAS, "--tools", "Read", credential="ANTHROPIC_AUTH_TOKEN"
    )
    assert run.tools_used == ["Read"]
    assert run.result["num_turns"] == 2
    assert run.answer.startswith(ECHO)
    assert_records(caller, OPENAI_SLUG, 2, ALIAS)


def test_claude_code_on_its_default_model_reaches_another_provider_through_a_virtual_model_of_that_name(
    claude: str, clients_org: ClientsOrg, elsewhere: str, tmp_path: Path
) -> None:
    """No `--model`: the project's virtual model named like Claude Code's default serves it from OpenAI
    (needs the `system` turns Claude Code sends on its newest models)."""
    caller = clients_org.caller(elsewhere)
    run = run_claude(claude, caller, tmp_path, "hello from claude code")
    assert run.model == DEFAULT_MODEL
    assert run.answer.startswith(ECHO)
    (doc,) = assert_records(caller, OPENAI_SLUG, 1, DEFAULT_MODEL)
    assert (doc["virtual_model"], doc["model_served"]) == (DEFAULT_MODEL, OPENAI_MODEL)
