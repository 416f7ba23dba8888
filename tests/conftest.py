"""Session fixtures: a real nats-server and a real SecantusDB on free loopback ports, the four
services as real processes, and the faithful fake providers. Nothing here is mocked."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from shared.embedded import free_port, wait_for_port
from shared.stack import EmbeddedStack

PROVIDER_KEY = "sk-canary-" + secrets.token_hex(16)


@dataclass
class FakeServer:
    """The fake providers, in their own process (sync tests block the test loop, so not in-process)."""

    root: str

    def base_urls(self) -> dict[str, str]:
        urls = {p: f"{self.root}{base}" for p, base in FAKE_BASES.items()}
        urls["azure"] = f"{self.root}/azure/{{resource_name}}/openai"
        return urls

    def add_key(self, provider: str, key: str) -> None:
        httpx.post(f"{self.root}/__admin/keys", json={"provider": provider, "key": key}, timeout=10).raise_for_status()

    def requests(self) -> list[dict[str, object]]:
        return httpx.get(f"{self.root}/__admin/requests", timeout=10).json()  # type: ignore[no-any-return]


FAKE_BASES = {
    "openai": "/openai/v1",
    "anthropic": "/anthropic",
    "google": "/google/v1beta",
    "vertex": "/vertex/v1",
    "vertex-token": "/vertex-token/token",
    "groq": "/groq/openai/v1",
    "together": "/together/v1",
    "fireworks": "/fireworks/inference/v1",
    "deepinfra": "/deepinfra/v1/openai",
    "baseten": "/baseten/v1",
    "nebius": "/nebius/v1",
    "perplexity": "/perplexity",
    "moonshot": "/moonshot/v1",
    "minimax": "/minimax/v1",
    "xai": "/xai/v1",
    "cohere": "/cohere",
    "fal": "/fal",
    "pollo": "/pollo/api/platform",
}


@pytest.fixture(scope="session")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    """The fake LLM providers every test talks to; `PROVIDER_KEY` is the one OpenAI key they accept."""
    port = free_port()
    log = (tmp_path_factory.mktemp("fake") / "fake.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.providers",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--keys-json",
            json.dumps({"openai": [PROVIDER_KEY]}),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        wait_for_port(port, proc=proc)
        yield FakeServer(root=f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def stack(fake: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """The whole stack, started once per session, DEBUG logs in JSON so tests can read every line."""
    env = {
        "KEYRELAY_PROVIDER_BASE_URLS": json.dumps(fake.base_urls()),
        "KEYRELAY_UPSTREAM_ALLOW": "127.0.0.1/32",
        # a quick breaker so the flapping-primary scenario runs in seconds
        "KEYRELAY_BREAKER_THRESHOLD": "3",
        "KEYRELAY_BREAKER_WINDOW": "6",
        "KEYRELAY_BREAKER_COOLDOWN_S": "1",
        # one worker (the default is one per core): breakers and caches are per process, and the
        # scenarios count on one of each
        "KEYRELAY_HTTP_WORKERS": "1",
        # media jobs nobody fetches are polled in the background 2 s apart (not 2, 4, 8 ... 60 s)
        "KEYRELAY_JOB_POLL_MOST_S": "2",
    }
    stack = EmbeddedStack(
        data_dir=tmp_path_factory.mktemp("keyrelay"), http_port=free_port(), extra_env=env, log_level="debug"
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def run_cli(stack: EmbeddedStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.operator_env(), "KEYRELAY_ENV_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


class Org:
    """A bootstrapped org with an owner client (management API) and helpers for the owner journey."""

    def __init__(self, stack: EmbeddedStack, org_id: str, owner_token: str, project_id: str) -> None:
        self.stack = stack
        self.org_id = org_id
        self.project_id = project_id
        self.owner = httpx.Client(
            base_url=f"{stack.gateway_url}/api/v1", timeout=30, headers={"authorization": f"Bearer {owner_token}"}
        )

    def integration(self, slug: str, provider_key: str = PROVIDER_KEY, **extra: Any) -> dict[str, Any]:
        body = {
            "provider": "openai",
            "name": f"OpenAI {slug}",
            "slug": slug,
            "project_scope": "all",
            "credentials": {"api_key": provider_key},
            "models": {"enabled": ["gpt-4o-mini"]},
            **extra,
        }
        response = self.owner.post("/integrations", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def api_key(self, project_id: str | None = None, **extra: object) -> str:
        response = self.owner.post(
            "/api-keys", json={"project_id": project_id or self.project_id, "name": "test", **extra}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["key"])


def bootstrap(stack: EmbeddedStack, name: str | None = None) -> Org:
    result = run_cli(
        stack, "bootstrap", "--org", name or f"org-{secrets.token_hex(4)}", "--owner-email", "owner@example.com"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return Org(stack, data["org_id"], data["owner_token"], data["project_id"])


@pytest.fixture(scope="session")
def org(stack: EmbeddedStack) -> Org:
    """One bootstrapped org with an OpenAI integration `openai-main`, shared by read-only tests."""
    created = bootstrap(stack)
    created.integration("openai-main")
    return created


def wait_for_record(stack: EmbeddedStack, request_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The activity document of one request, once activity has stored it."""
    with MongoClient(stack.mongodb_uri) as client:
        coll = client["keyrelay_activity"]["requests"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            doc = coll.find_one({"_id": request_id})
            if doc is not None:
                return doc
            time.sleep(0.1)
    raise AssertionError(f"no activity document for {request_id}")


def read_logs(stack: EmbeddedStack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in Path(stack.logs).glob("*.log"))
