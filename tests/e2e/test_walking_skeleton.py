"""The walking skeleton end to end: real nats-server, real SecantusDB, four service processes."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import msgspec
import nats
import openai
import pytest
from pymongo import MongoClient

from shared import subjects
from shared.messages.activity import RequestFinished
from shared.stack import EmbeddedStack
from tests.conftest import PROVIDER_KEY, Org, bootstrap, read_logs, run_cli, wait_for_record


def activity_doc(stack: EmbeddedStack, request_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
    return wait_for_record(stack, request_id, timeout_s)


def sdk(stack: EmbeddedStack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=key, max_retries=0)


def test_a_completion_through_the_gateway_answers_and_is_recorded_once(org: Org) -> None:
    """The openai SDK gets the provider's answer, and activity stores one record with slug, usage and cost."""
    client = sdk(org.stack, org.api_key())
    raw = client.chat.completions.with_raw_response.create(
        model="@openai-main/gpt-4o-mini", messages=[{"role": "user", "content": "hello keyrelay"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hello keyrelay"
    assert raw.headers["x-keyrelay-integration"] == "openai-main"
    assert raw.headers["x-keyrelay-model"] == "gpt-4o-mini"
    assert raw.headers["x-keyrelay-attempts"] == "1"
    doc = activity_doc(org.stack, raw.headers["x-request-id"])
    assert doc["integration"] == "openai-main"
    assert doc["status"] == 200
    assert doc["byok"] is True
    assert doc["usage"]["total_tokens"] == completion.usage.total_tokens  # type: ignore[index,union-attr]
    assert doc["cost_usd"] > 0  # type: ignore[operator]


def test_a_streamed_completion_arrives_in_chunks_with_usage_and_is_priced(org: Org) -> None:
    """Streaming through the SDK yields the text, a usage chunk when asked, and a non-zero recorded cost."""
    client = sdk(org.stack, org.api_key())
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "stream this please"}],
    )
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream this please"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0
    doc = activity_doc(org.stack, raw.headers["x-request-id"])
    assert doc["stream"] is True
    assert doc["stream_outcome"] == "complete"
    assert doc["cost_usd"] > 0  # type: ignore[operator]
    assert doc["ttft_ms"] is not None


async def test_an_activity_event_delivered_twice_is_stored_once(org: Org) -> None:
    """Redelivery (same event under two message ids, so JetStream cannot dedupe it) keeps one document."""
    nc = await nats.connect(org.stack.nats_url, user="operator", password=org.stack.password("operator"))
    event = RequestFinished(
        request_id=f"req_dup_{time.time_ns()}",
        ts=__import__("datetime").datetime.now(__import__("datetime").UTC),
        org_id=org.org_id,
        project_id=org.project_id,
        api_key_id="key_x",
    )
    js = nc.jetstream()
    data = msgspec.json.encode(event)
    await js.publish(subjects.ACTIVITY_REQUEST_FINISHED, data, headers={"Nats-Msg-Id": "a-" + event.request_id})
    await js.publish(subjects.ACTIVITY_REQUEST_FINISHED, data, headers={"Nats-Msg-Id": "b-" + event.request_id})
    await nc.close()
    activity_doc(org.stack, event.request_id)
    await asyncio.sleep(1.0)
    with MongoClient(org.stack.mongodb_uri) as client:
        assert client["keyrelay_activity"]["requests"].count_documents({"_id": event.request_id}) == 1


def _leaks(secret: str, text: str) -> list[str]:
    forms = {
        secret,
        base64.b64encode(secret.encode()).decode(),
        secret.encode().hex(),
        msgspec.json.encode(secret).decode(),
    }
    found = [f for f in forms if f in text]
    found += [secret[i : i + 12] for i in range(len(secret) - 11) if secret[i : i + 12] in text]
    return found


async def test_the_provider_key_never_appears_in_logs_or_bus_messages(stack: EmbeddedStack) -> None:
    """A monitor subscribed to every subject and every service log at DEBUG never see the key."""
    canary = "sk-canary-" + base64.b32encode(__import__("os").urandom(20)).decode().lower()
    seen: list[bytes] = []
    nc = await nats.connect(stack.nats_url, user="operator", password=stack.password("operator"))

    async def collect(msg: nats.aio.msg.Msg) -> None:
        seen.append(msg.subject.encode() + b" " + msg.data + b" " + repr(msg.headers).encode())

    await nc.subscribe(">", cb=collect)
    org = bootstrap(stack)
    org.integration("canary-int", provider_key=canary)
    key = org.api_key()
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        response = await client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "@canary-int/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        )
    # the fake does not know the canary key: the provider refuses it, exactly like a revoked key
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    await asyncio.sleep(1.0)
    await nc.close()
    bus_text = b"\n".join(seen).decode("latin-1")
    assert _leaks(canary, bus_text) == []
    assert _leaks(canary, read_logs(stack)) == []
    assert _leaks(canary, response.text) == []
    listing = org.owner.get("/integrations").text
    assert _leaks(canary, listing) == []


def test_a_request_while_keyvault_is_down_fails_fast_with_503(stack: EmbeddedStack) -> None:
    """With keyvault stopped, an uncached key lookup answers 503 dependency_unavailable within seconds."""
    org = bootstrap(stack)
    org.integration("kv-down")
    key = org.api_key()
    stack.children["keyvault"].stop()
    try:
        started = time.monotonic()
        response = httpx.post(
            f"{stack.gateway_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "@kv-down/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        elapsed = time.monotonic() - started
    finally:
        stack.start_service("keyvault")
        stack.wait_ready(30)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert elapsed < 5


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"messages": []}', "invalid_model"),
        (b'{"model": "@nope/x", "messages": []}', "model_not_found"),
    ],
)
def test_a_bad_body_gets_a_4xx_in_the_contract_error_shape(org: Org, body: bytes, code: str) -> None:
    """Malformed or unroutable requests get `{"error": {message, type, code, param}}`, never a 500."""
    key = org.api_key()
    response = httpx.post(
        f"{org.stack.gateway_url}/v1/chat/completions",
        content=body,
        timeout=30,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == code


def test_a_missing_or_wrong_api_key_is_refused_with_401(stack: EmbeddedStack) -> None:
    """No key and an unknown key both answer 401 in the contract shape."""
    for headers in ({}, {"authorization": "Bearer kr-nope"}):
        response = httpx.post(
            f"{stack.gateway_url}/v1/chat/completions", headers=headers, timeout=30, json={"model": "x", "messages": []}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"unauthorized", "invalid_api_key"}


def test_models_lists_exactly_what_the_key_can_route(org: Org) -> None:
    """`GET /v1/models` lists the integration's enabled model in both addressable forms."""
    client = sdk(org.stack, org.api_key())
    ids = {m.id for m in client.models.list()}
    assert {"@openai-main/gpt-4o-mini", "openai/gpt-4o-mini"} <= ids
    assert PROVIDER_KEY not in str(ids)


def test_every_service_exposes_prometheus_metrics(org: Org) -> None:
    """Every service, the gateway included, on its own loopback metrics port, in Prometheus text format."""
    sdk(org.stack, org.api_key()).chat.completions.create(
        model="@openai-main/gpt-4o-mini", messages=[{"role": "user", "content": "count me"}]
    )
    gateway = httpx.get(f"http://127.0.0.1:{org.stack.metrics_ports['gateway']}/metrics", timeout=10).text
    assert (
        'keyrelay_gateway_requests_total{endpoint="chat.completions",integration="openai-main",status="200"}' in gateway
    )
    assert "keyrelay_gateway_snapshot_hits" in gateway
    for service in ("catalog", "activity"):
        port = org.stack.metrics_ports[service]
        assert "python_info" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    time.sleep(0.5)
    activity = httpx.get(f"http://127.0.0.1:{org.stack.metrics_ports['activity']}/metrics", timeout=10).text
    assert 'keyrelay_activity_stored_total{collection="requests"}' in activity


def test_doctor_reports_every_dependency_healthy(stack: EmbeddedStack) -> None:
    """`keyrelay doctor` checks NATS, JetStream durability, MongoDB and the three services."""
    result = run_cli(stack, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("nats", "jetstream", "mongodb", "keyvault", "catalog", "activity"):
        assert any(line.startswith("ok") and name in line for line in result.stdout.splitlines()), result.stdout
    assert "discard new" in result.stdout


def _keyvault_round_trips(stack: EmbeddedStack) -> float:
    text = httpx.get(f"http://127.0.0.1:{stack.metrics_ports['gateway']}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("keyrelay_gateway_keyvault_round_trips "))
    return float(line.split()[1])


def test_a_key_of_another_project_gets_404_and_keyvault_is_not_even_asked(stack: EmbeddedStack) -> None:
    """An integration scoped to project A is invisible to a project-B key: 404 before any decryption."""
    org = bootstrap(stack)
    project_a = org.owner.post("/projects", json={"name": "project-a"}).json()["id"]
    org.integration("only-a", project_scope=[project_a])
    key_b = org.api_key()  # the default project
    before = _keyvault_round_trips(stack)
    response = httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key_b}"},
        json={"model": "@only-a/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert _keyvault_round_trips(stack) == before
