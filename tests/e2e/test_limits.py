"""Limits and budgets hold across gateway replicas (shared state in NATS KV, not process memory)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pymongo import MongoClient

from shared.embedded import Child, free_port, service_child, wait_for_port
from shared.stack import EmbeddedStack
from tests.conftest import Org, bootstrap


@pytest.fixture(scope="module")
def second_gateway(stack: EmbeddedStack) -> Iterator[str]:
    """Another gateway process on its own port, same NATS and services."""
    port = free_port()
    env = {**stack.service_env("gateway"), "KEYRELAY_HTTP_PORT": str(port)}
    child: Child = service_child("gateway", env=env, log_path=stack.logs / "gateway-2.log").start()
    try:
        wait_for_port(port, proc=child.proc, timeout_s=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


@pytest.fixture(scope="module")
def limited_org(stack: EmbeddedStack) -> Org:
    org = bootstrap(stack)
    org.integration("lim")
    return org


def _wait_for_next_minute_if_close() -> None:
    """RPM windows are calendar minutes: start with enough of the minute left to finish."""
    if time.gmtime().tm_sec > 45:
        time.sleep(61 - time.gmtime().tm_sec)


def chat(base: str, key: str, *, stream: bool = False) -> httpx.Response:
    body = {"model": "@lim/gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)


def test_an_rpm_limit_holds_across_two_gateways(limited_org: Org, second_gateway: str) -> None:
    """rpm=10 on a key lets exactly 10 requests through in the minute, spread over two replicas."""
    key = limited_org.api_key(rpm=10)
    _wait_for_next_minute_if_close()
    gateways = [limited_org.stack.gateway_url, second_gateway]
    statuses = [chat(gateways[i % 2], key).status_code for i in range(24)]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 14
    refused = chat(gateways[0], key)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_a_project_rpm_limit_counts_every_key_of_the_project(limited_org: Org, second_gateway: str) -> None:
    """A project's rpm covers all its keys together."""
    project = limited_org.owner.post("/projects", json={"name": f"limited-{time.time_ns()}", "rpm": 6}).json()
    limited_org.owner.patch("/integrations/lim", json={"project_scope": "all"})
    keys = [limited_org.api_key(project["id"]) for _ in range(3)]
    _wait_for_next_minute_if_close()
    statuses = [
        chat([limited_org.stack.gateway_url, second_gateway][i % 2], keys[i % 3]).status_code for i in range(12)
    ]
    assert statuses.count(200) == 6


def test_a_budget_stops_traffic_within_one_request_streams_included(limited_org: Org, second_gateway: str) -> None:
    """With a USD budget, traffic (half of it streamed, over two replicas) stops within one request."""
    budget = 0.00002
    key = limited_org.api_key(budget_usd=budget, budget_period="day")
    gateways = [limited_org.stack.gateway_url, second_gateway]
    answered, refused = [], None
    for i in range(40):
        response = chat(gateways[i % 2], key, stream=bool(i % 2))
        if response.status_code == 402:
            refused = response
            break
        assert response.status_code == 200
        answered.append(response.headers["x-request-id"])
        time.sleep(0.3)  # accounting happens right after each answer
    assert refused is not None, "the budget never stopped traffic"
    assert refused.json()["error"]["code"] == "budget_exceeded"
    with MongoClient(limited_org.stack.mongodb_uri) as mongo:
        coll = mongo["keyrelay_activity"]["requests"]
        deadline = time.monotonic() + 10
        while coll.count_documents({"_id": {"$in": answered}}) < len(answered) and time.monotonic() < deadline:
            time.sleep(0.2)
        costs = [d["cost_usd"] for d in coll.find({"_id": {"$in": answered}})]
    assert all(c > 0 for c in costs)
    assert sum(costs) - max(costs) < budget <= sum(costs) + 1e-12
