"""Failover that never lies: one scenario per fault of the fake providers (issue 6).

Each test asserts what the client saw, the routing headers, and the activity record. The primary
integration serves fault models (chosen by model name in the fake), the backup serves healthy ones.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import msgspec
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import Org, bootstrap, wait_for_record

FAULTS = [
    "fault-429",
    "fault-429-noretry",
    "fault-500-once",
    "fault-503",
    "fault-reset",
    "fault-hang",
    "fault-slow-ttft-2000ms",
    "fault-cut-3",
    "fault-stall",
    "fault-malformed",
    "fault-no-done",
    "fault-context-length",
    "fault-flap",
]


class Scenario:
    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.org: Org = bootstrap(stack)
        self.tag = secrets.token_hex(3)
        self.org.integration("backup")
        self.key = self.org.api_key()
        self.http = httpx.Client(
            base_url=stack.gateway_url, timeout=60, headers={"authorization": f"Bearer {self.key}"}
        )

    def model(self, fault: str) -> str:
        return f"m{self.tag}-{fault}"

    def primary(self, fault: str) -> str:
        """A fresh primary integration serving one fault model: each test gets its own circuit breaker."""
        slug = f"primary-{secrets.token_hex(3)}"
        self.org.integration(slug, models={"enabled": []})
        response = self.org.owner.post(f"/integrations/{slug}/custom-models", json={"slug": self.model(fault)})
        assert response.status_code == 201, response.text
        return slug

    def config(self, name: str, tree: dict[str, Any]) -> None:
        response = self.org.owner.put(f"/configs/{name}", json=tree)
        assert response.status_code in (200, 201), response.text

    def chat(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post("/v1/chat/completions", json=body, headers=headers or {})

    def stream(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[httpx.Response, str]:
        with self.http.stream(
            "POST", "/v1/chat/completions", json={**body, "stream": True}, headers=headers or {}
        ) as response:
            text = response.read().decode()
        return response, text

    def record(self, request_id: str) -> dict[str, Any]:
        return wait_for_record(self.stack, request_id)


@pytest.fixture(scope="module")
def sc(stack: EmbeddedStack) -> Scenario:
    return Scenario(stack)


def ask(sc: Scenario, fault: str, primary: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": f"@{primary}/{sc.model(fault)}",
        "messages": [{"role": "user", "content": "hello"}],
        "models": ["@backup/gpt-4o-mini"],
        **extra,
    }


def attempts(doc: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(integration, error code) per attempt, with every fresh primary named `primary`."""
    return [
        ("primary" if a["integration"].startswith("primary-") else a["integration"], a["error_code"])
        for a in doc["attempts"]
    ]


@pytest.mark.parametrize("fault", ["fault-429", "fault-429-noretry"])
def test_a_rate_limited_primary_falls_back_to_the_backup(sc: Scenario, fault: str) -> None:
    """429 (with or without retry-after) moves on to the backup; the client sees one clean answer."""
    response = sc.chat(ask(sc, fault, sc.primary(fault)))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "echo: hello"
    assert response.headers["x-keyrelay-integration"] == "backup"
    assert response.headers["x-keyrelay-attempts"] == "2"
    doc = sc.record(response.headers["x-request-id"])
    assert attempts(doc) == [("primary", "upstream_rate_limited"), ("backup", None)]
    assert doc["integration"] == "backup"
    assert doc["status"] == 200


def test_a_rate_limit_is_retried_after_the_providers_retry_after(sc: Scenario) -> None:
    """With a retry policy the same target is retried, waiting the provider's retry-after (1 s here)."""
    primary = sc.primary("fault-429")
    sc.config(
        "retry-429",
        {
            "retry": {"attempts": 2, "max_retry_after_ms": 1500},
            "targets": [
                {"integration": primary, "model": sc.model("fault-429")},
                {"integration": "backup", "model": "gpt-4o-mini"},
            ],
        },
    )
    started = time.monotonic()
    response = sc.chat(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}, {"x-keyrelay-config": "retry-429"}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers["x-keyrelay-attempts"] == "3"
    assert elapsed >= 0.9
    doc = sc.record(response.headers["x-request-id"])
    assert attempts(doc) == [
        ("primary", "upstream_rate_limited"),
        ("primary", "upstream_rate_limited"),
        ("backup", None),
    ]
    assert doc["config"] == "retry-429"
    assert doc["config_version"] >= 1


def test_a_one_off_500_is_retried_on_the_same_integration(sc: Scenario) -> None:
    """A transient 500 with `retry.attempts: 2` succeeds on the second try, no fallback needed."""
    primary = sc.primary("fault-500-once")
    sc.config(
        "retry-once",
        {
            "retry": {"attempts": 2, "backoff_ms": 10},
            "targets": [{"integration": primary, "model": sc.model("fault-500-once")}],
        },
    )
    response = sc.chat(
        {"model": "x", "messages": [{"role": "user", "content": "hello"}]}, {"x-keyrelay-config": "retry-once"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-keyrelay-integration"] == primary
    doc = sc.record(response.headers["x-request-id"])
    assert attempts(doc) == [("primary", "upstream_error"), ("primary", None)]


@pytest.mark.parametrize(("fault", "code"), [("fault-503", "upstream_overloaded"), ("fault-reset", "upstream_error")])
def test_a_failing_primary_falls_back(sc: Scenario, fault: str, code: str) -> None:
    """Persistent 503 and a reset connection both fall back to the backup."""
    response = sc.chat(ask(sc, fault, sc.primary(fault)))
    assert response.status_code == 200, response.text
    assert response.headers["x-keyrelay-integration"] == "backup"
    assert attempts(sc.record(response.headers["x-request-id"])) == [("primary", code), ("backup", None)]


def test_an_upstream_that_never_answers_times_out_and_falls_back(sc: Scenario) -> None:
    """A hanging primary is abandoned after the config's per-attempt timeout."""
    primary = sc.primary("fault-hang")
    sc.config(
        "hang",
        {
            "timeout_ms": 500,
            "first_byte_timeout_ms": 500,
            "targets": [
                {"integration": primary, "model": sc.model("fault-hang")},
                {"integration": "backup", "model": "gpt-4o-mini"},
            ],
        },
    )
    started = time.monotonic()
    response = sc.chat(
        {"model": "x", "messages": [{"role": "user", "content": "hello"}]}, {"x-keyrelay-config": "hang"}
    )
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    assert attempts(sc.record(response.headers["x-request-id"])) == [("primary", "upstream_timeout"), ("backup", None)]


def test_a_slow_first_token_on_a_stream_falls_back_before_anything_is_sent(sc: Scenario) -> None:
    """Time to first token is bounded per attempt; the stream then comes, complete, from the backup."""
    primary = sc.primary("fault-slow-ttft-2000ms")
    sc.config(
        "ttft",
        {
            "first_byte_timeout_ms": 500,
            "targets": [
                {"integration": primary, "model": sc.model("fault-slow-ttft-2000ms")},
                {"integration": "backup", "model": "gpt-4o-mini"},
            ],
        },
    )
    response, text = sc.stream(
        {"model": "x", "messages": [{"role": "user", "content": "hello"}]}, {"x-keyrelay-config": "ttft"}
    )
    assert response.status_code == 200
    assert response.headers["x-keyrelay-integration"] == "backup"
    assert text.rstrip().endswith("data: [DONE]")
    doc = sc.record(response.headers["x-request-id"])
    assert doc["stream_outcome"] == "complete"
    assert attempts(doc) == [("primary", "upstream_timeout"), ("backup", None)]


def _events(text: str) -> list[Any]:
    return [
        msgspec.json.decode(line[6:]) if line[6:] != "[DONE]" else "[DONE]"
        for line in text.splitlines()
        if line.startswith("data: ")
    ]


@pytest.mark.parametrize("fault", ["fault-cut-3", "fault-malformed", "fault-no-done"])
def test_a_stream_that_breaks_after_the_first_byte_ends_with_an_error_event(sc: Scenario, fault: str) -> None:
    """Cut, malformed or unterminated streams: the client gets a terminal error event, no [DONE],
    and the record says `stream_outcome: upstream_error`, never success."""
    response, text = sc.stream(ask(sc, fault, sc.primary(fault)))
    assert response.status_code == 200
    events = _events(text)
    assert "[DONE]" not in events
    assert isinstance(events[-1], dict)
    assert events[-1]["error"]["code"] in {"upstream_error", "upstream_timeout"}
    doc = sc.record(response.headers["x-request-id"])
    assert doc["stream_outcome"] == "upstream_error"
    assert doc["status"] >= 500


def test_a_stalled_stream_is_ended_with_an_error_event(sc: Scenario) -> None:
    """A stream that stops sending is cut after the config's per-chunk timeout, with an error event."""
    primary = sc.primary("fault-stall")
    sc.config("stall", {"timeout_ms": 700, "targets": [{"integration": primary, "model": sc.model("fault-stall")}]})
    started = time.monotonic()
    response, text = sc.stream(
        {"model": "x", "messages": [{"role": "user", "content": "hello"}]}, {"x-keyrelay-config": "stall"}
    )
    assert time.monotonic() - started < 10
    events = _events(text)
    assert "[DONE]" not in events
    assert events[-1]["error"]["code"] == "upstream_timeout"
    assert sc.record(response.headers["x-request-id"])["stream_outcome"] == "upstream_error"


def test_a_context_length_error_does_not_fall_back(sc: Scenario) -> None:
    """The request itself is at fault: 400 context_length_exceeded at once, the backup is not tried."""
    response = sc.chat(ask(sc, "fault-context-length", sc.primary("fault-context-length")))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert response.headers["x-keyrelay-attempts"] == "1"
    assert attempts(sc.record(response.headers["x-request-id"])) == [("primary", "context_length_exceeded")]


def test_a_flapping_primary_opens_its_breaker_and_recovers(sc: Scenario) -> None:
    """Failures open the primary's circuit (later requests skip it), and after the cooldown a
    probe closes it again; every client request still got an answer."""
    body = ask(sc, "fault-flap", sc.primary("fault-flap"))
    states = []
    for _ in range(30):
        response = sc.chat(body)
        assert response.status_code == 200, response.text
        explain = sc.http.post("/api/v1/route/explain", json={"model": body["model"], "models": body["models"]})
        states.append(explain.json()["plan"][0]["breaker"])
        if "open" in states and states[-1] == "closed":
            break
        time.sleep(0.2)
    assert "open" in states
    assert states[-1] == "closed"


def test_route_explain_shows_the_plan_without_calling_a_provider(sc: Scenario) -> None:
    """Explain lists the ordered targets with their retry and fallback policy, and calls nothing."""
    response = sc.http.post("/api/v1/route/explain", json={"model": "@backup/gpt-4o-mini"})
    assert response.status_code == 200
    plan = response.json()["plan"]
    assert [(p["integration"], p["model"]) for p in plan] == [("backup", "gpt-4o-mini")]
    assert plan[0]["breaker"] == "closed"
    assert 503 in plan[0]["fallback_on"]
