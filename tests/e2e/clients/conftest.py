"""The real clients users run against a gateway, pointed at the test stack (issue 18).

Python clients come from requirements.lock; the Node ones (Claude Code, the `openai` package) from
`package.json` beside this file, which `./run` installs into `node_modules/` (git-ignored). Outside
CI a missing Node client skips its tests with one line naming the install command; in CI
(`CI=true`) it is a failure.

Nothing may leave the machine: every test runs with HTTP(S)_PROXY pointing to a closed loopback
port and NO_PROXY naming only the loopback, so a client that phones home fails at once on
127.0.0.1 instead of reaching out.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pymongo import MongoClient

from shared.embedded import free_port
from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
INSTALL_HINT = "./run (npm install --no-package-lock --no-audit --no-fund in tests/e2e/clients)"
OPENAI_SLUG = "openai-clients"
ANTHROPIC_SLUG = "anthropic-clients"
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-6"
CLIENT_TIMEOUT_S = 30
# the fake provider's signature: its answer echoes the final turn (tests/fakes/providers/answers.py)
ECHO = "echo: "


def missing(what: str) -> NoReturn:
    """Skip outside CI, fail inside: a client the harness should have installed is absent."""
    message = f"{what} is not installed: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        missing("Node.js (node)")
    if not (NODE_MODULES / "openai" / "package.json").is_file():
        missing("the npm package openai")
    return path


@pytest.fixture(scope="session")
def claude() -> str:
    path = NODE_MODULES / ".bin" / "claude"
    if not path.exists():
        missing("Claude Code (@anthropic-ai/claude-code)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert version.returncode == 0, version.stderr
    return str(path)


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A loopback port nothing listens on: where every client's proxy points."""
    return free_port()


@pytest.fixture(autouse=True)
def no_egress(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    proxy = f"http://127.0.0.1:{closed_port}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
        monkeypatch.setenv(name.lower(), proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@dataclass
class Caller:
    """A fresh project API key: every activity record it leaves is this test's."""

    stack: EmbeddedStack
    key: str
    key_id: str

    @property
    def v1(self) -> str:
        return f"{self.stack.gateway_url}/v1"

    def records(self, count: int, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        """The activity documents of this key, once `count` of them are stored (oldest first)."""
        with MongoClient(self.stack.mongodb_uri) as client:
            coll = client["keyrelay_activity"]["requests"]
            deadline = time.monotonic() + timeout_s
            while True:
                docs = list(coll.find({"api_key_id": self.key_id}).sort("ts", 1))
                if len(docs) >= count or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        assert len(docs) == count, [(d.get("model_requested"), d.get("status")) for d in docs]
        return docs

    def assert_served_by(self, slug: str, count: int, *, streamed: int = 0) -> list[dict[str, Any]]:
        """`count` successful records, each naming the integration that served it; `streamed` of them streamed."""
        docs = self.records(count)
        assert [d["integration"] for d in docs] == [slug] * count
        assert [d["status"] for d in docs] == [200] * count
        assert sum(1 for d in docs if d.get("stream")) == streamed
        assert all(d["usage"]["total_tokens"] > 0 for d in docs)
        return docs


@dataclass
class ClientsOrg:
    org: Org
    fake: FakeServer
    anthropic_key: str

    def caller(self, project_id: str | None = None) -> Caller:
        response = self.org.owner.post(
            "/api-keys", json={"project_id": project_id or self.org.project_id, "name": "real-client"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Caller(self.org.stack, str(body["key"]), str(body["id"]))

    def project(self, name: str) -> str:
        response = self.org.owner.post("/projects", json={"name": f"{name}-{secrets.token_hex(3)}"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def virtual_model(self, name: str, target: str, project_id: str) -> None:
        body = {"name": name, "project_id": project_id, "strategy": "fallback", "targets": [{"model": target}]}
        response = self.org.owner.post("/virtual-models", json=body)
        assert response.status_code == 201, response.text

    def enable(self, slug: str, model: str, enabled: list[str]) -> None:
        """Enable a catalog model on an integration (the catalog must know it)."""
        response = self.org.owner.put(f"/integrations/{slug}/models", json={"enabled": [*enabled, model]})
        assert response.status_code in {200, 201}, response.text


@pytest.fixture(scope="session")
def clients_org(stack: EmbeddedStack, fake: FakeServer) -> Iterator[ClientsOrg]:
    """One org with an OpenAI and an Anthropic integration (both answered by the fakes)."""
    org = bootstrap(stack)
    org.integration(OPENAI_SLUG, models={"enabled": [OPENAI_MODEL, "gpt-4.1"]})
    anthropic_key = f"sk-ant-{secrets.token_hex(12)}"
    fake.add_key("anthropic", anthropic_key)
    org.integration(
        ANTHROPIC_SLUG,
        provider="anthropic",
        provider_key=anthropic_key,
        models={"enabled": [ANTHROPIC_MODEL, "claude-haiku-4-5"]},
    )
    yield ClientsOrg(org, fake, anthropic_key)
    org.owner.close()
