"""Load-balancing weights, client disconnects, content logging, trace context, integration health."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import Org, bootstrap, wait_for_record


def record(stack: EmbeddedStack, request_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
    return wait_for_record(stack, request_id, timeout_s)


@pytest.fixture(scope="module")
def lb_org(stack: EmbeddedStack) -> Org:
    org = bootstrap(stack)
    org.integration("lb-a")
    org.integration("lb-b")
    response = org.owner.post(
        "/virtual-models",
        json={
            "name": "chat-weighted",
            "strategy": "loadbalance",
            "targets": [{"model": "@lb-a/gpt-4o-mini", "weight": 3}, {"model": "@lb-b/gpt-4o-mini", "weight": 1}],
        },
    )
    assert response.status_code == 201, response.text
    return org


async def test_load_balancing_weights_hold_within_five_points_over_a_thousand_requests(lb_org: Org) -> None:
    """Weights 3:1 serve 75 % +/- 5 points from the first target over 1,000 requests."""
    key = lb_org.api_key()
    served: collections.Counter[str] = collections.Counter()
    async with httpx.AsyncClient(
        base_url=lb_org.stack.gateway_url, timeout=30, headers={"authorization": f"Bearer {key}"}
    ) as client:

        async def one() -> None:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "chat-weighted", "messages": [{"role": "user", "content": "spread me"}]},
            )
            assert response.status_code == 200
            served[response.headers["x-keyrelay-integration"]] += 1

        for _ in range(20):
            await asyncio.gather(*(one() for _ in range(50)))
    share = served["lb-a"] / sum(served.values())
    assert sum(served.values()) == 1000
    assert 0.70 <= share <= 0.80, served


def test_a_client_that_disconnects_mid_stream_is_recorded_as_cancelled(org: Org, stack: EmbeddedStack) -> None:
    """Closing the connection after the first chunk ends the upstream call and records client_cancelled."""
    org.owner.post("/integrations/openai-main/custom-models", json={"slug": "cancel-me-fault-stall"})
    key = org.api_key()
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers={"authorization": f"Bearer {key}"}) as client:
        with client.stream(
            "POST",
            "/v1/chat/completions",
            json={
                "model": "@openai-main/cancel-me-fault-stall",
                "stream": True,
                "messages": [{"role": "user", "content": "then stall"}],
            },
        ) as response:
            request_id = response.headers["x-request-id"]
            next(response.iter_lines())
    doc = record(stack, request_id, timeout_s=20)
    assert doc["stream_outcome"] == "client_cancelled"


def test_content_is_logged_only_when_the_project_turns_it_on(stack: EmbeddedStack) -> None:
    """Prompts and answers stay out of the activity store unless the project enabled content logging."""
    org = bootstrap(stack)
    org.integration("content-int")
    quiet_key = org.api_key()
    loud = org.owner.post("/projects", json={"name": "loud", "content_logging": True}).json()
    loud_key = org.api_key(loud["id"])
    ids = {}
    for name, key in (("quiet", quiet_key), ("loud", loud_key)):
        response = httpx.post(
            f"{stack.gateway_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={
                "model": "@content-int/gpt-4o-mini",
                "messages": [{"role": "user", "content": f"secret plans {name}"}],
            },
            timeout=30,
        )
        ids[name] = response.headers["x-request-id"]
    quiet, loud_doc = record(stack, ids["quiet"]), record(stack, ids["loud"])
    assert quiet["content"] is None
    assert "secret plans" not in str(quiet)
    assert loud_doc["content"]["request"]["messages"][0]["content"] == "secret plans loud"
    assert "secret plans loud" in loud_doc["content"]["response"]


def test_a_clients_traceparent_reaches_the_activity_record(org: Org) -> None:
    """The W3C trace id a client sends is carried to the record (and through NATS headers)."""
    key = org.api_key()
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx.post(
        f"{org.stack.gateway_url}/v1/chat/completions",
        timeout=30,
        headers={"authorization": f"Bearer {key}", "traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
        json={"model": "@openai-main/gpt-4o-mini", "messages": [{"role": "user", "content": "t"}]},
    )
    assert record(org.stack, response.headers["x-request-id"])["trace_id"] == trace


def test_an_integration_whose_key_is_refused_shows_status_error_with_the_error_class(stack: EmbeddedStack) -> None:
    """Real traffic decides status: a 401 from the provider marks the integration `error` / `auth`."""
    org = bootstrap(stack)
    org.integration("bad-key", provider_key="sk-not-registered-0123456789")
    key = org.api_key()
    response = httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "@bad-key/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        view = org.owner.get("/integrations/bad-key").json()
        if view["status"] == "error":
            break
        time.sleep(0.2)
    assert view["status"] == "error"
    assert view["last_error"] == "auth"
    assert view["last_used_at"] is not None


def test_the_openapi_document_describes_the_management_api(stack: EmbeddedStack) -> None:
    """`/api/v1/openapi.json` is OpenAPI 3.1 and covers the management endpoints."""
    document = httpx.get(f"{stack.gateway_url}/api/v1/openapi.json", timeout=30).json()
    assert document["openapi"].startswith("3.1")
    for path in ("/api/v1/integrations", "/api/v1/api-keys", "/api/v1/configs/{name}", "/v1/chat/completions"):
        assert path in document["paths"], path
