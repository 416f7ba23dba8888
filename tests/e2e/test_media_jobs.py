"""Media jobs (issue 14): a FAL or Pollo job answered as a handle is fetched with
`GET /v1/jobs/{job_id}` by its own project only, and its activity record gets the final status
and cost once a read sees it end, or once the gateway's background poller does, when nobody reads it."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record

MODELS = {"fal": "fal-ai/flux/dev", "pollo": "pollo/pollo-v2-0"}
ASYNC = {"prefer": "respond-async"}


def _add(org: Org, fake: FakeServer, provider: str, slug: str, models: list[str]) -> None:
    key = f"sk-{slug}-{secrets.token_hex(10)}"
    fake.add_key(provider, key)
    body = {"provider": provider, "name": slug, "slug": slug, "credentials": {"api_key": key}}
    created = org.owner.post("/integrations", json={**body, "models": {"enabled": models}})
    assert created.status_code == 201, created.text


def _client(stack: EmbeddedStack, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.gateway_url}/v1", headers={"authorization": f"Bearer {api_key}"}, timeout=30)


@pytest.fixture(scope="module")
def studio(stack: EmbeddedStack, fake: FakeServer) -> tuple[Org, httpx.Client]:
    org = bootstrap(stack)
    _add(org, fake, "fal", "j-fal", [MODELS["fal"]])
    failing = org.owner.post("/integrations/j-fal/custom-models", json={"slug": "fal-ai/fault-job-fail"})
    assert failing.status_code == 201, failing.text
    _add(org, fake, "pollo", "j-pollo", [MODELS["pollo"]])
    saved = org.owner.put("/integrations/j-pollo/pricing", json={"models": {MODELS["pollo"]: {"per_credit": 0.04}}})
    assert saved.status_code == 200, saved.text
    return org, _client(stack, org.api_key())


def _submit(client: httpx.Client, model: str, prompt: str = "a slow boat") -> httpx.Response:
    answer = client.post("/images/generations", json={"model": model, "prompt": prompt}, headers=ASYNC)
    assert answer.status_code == 200, answer.text
    return answer


def _record_when(stack: EmbeddedStack, request_id: str, job_status: str, timeout_s: float = 10) -> dict[str, Any]:
    with MongoClient(stack.mongodb_uri) as mongo:
        coll = mongo["keyrelay_activity"]["requests"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            doc = coll.find_one({"_id": request_id})
            if doc is not None and doc.get("job_status") == job_status:
                return doc
            time.sleep(0.1)
    raise AssertionError(f"the record of {request_id} never became {job_status}")


@pytest.mark.parametrize(("provider", "slug", "cost"), [("fal", "j-fal", 0.025), ("pollo", "j-pollo", 12.5 * 0.04)])
def test_a_media_job_answered_as_a_handle_is_polled_running_then_succeeded_and_its_record_gets_the_cost(
    stack: EmbeddedStack, studio: tuple[Org, httpx.Client], provider: str, slug: str, cost: float
) -> None:
    _org, client = studio
    submitted = _submit(client, f"@{slug}/{MODELS[provider]}")
    handle = submitted.json()
    assert handle["status"] == "queued"
    assert handle["provider"] == provider
    queued = wait_for_record(stack, submitted.headers["x-request-id"])
    assert queued["job_status"] == "queued"
    assert queued["cost_usd"] == 0

    running = client.get(f"/jobs/{handle['id']}")
    assert running.status_code == 200, running.text
    assert running.json() == {"id": handle["id"], "status": "running"}
    done = client.get(f"/jobs/{handle['id']}").json()
    assert done["status"] == "succeeded"
    assert done["result"]["data"][0]["url"].startswith("http://127.0.0.1")
    assert "error" not in done
    assert client.get(f"/jobs/{handle['id']}").json() == done  # kept: read again without a new charge

    final = _record_when(stack, submitted.headers["x-request-id"], "succeeded")
    assert final["status"] == 200
    assert final["cost_usd"] == pytest.approx(cost)
    assert final["integration"] == slug
    if provider == "pollo":
        assert final["usage"]["credits"] == 12.5


def test_a_failed_job_reads_failed_with_an_error_and_its_record_says_so(
    stack: EmbeddedStack, studio: tuple[Org, httpx.Client]
) -> None:
    _org, client = studio
    submitted = _submit(client, "@j-fal/fal-ai/fault-job-fail")
    job_id = submitted.json()["id"]
    states = [client.get(f"/jobs/{job_id}").json() for _ in range(2)]
    assert states[0]["status"] == "running"
    assert states[1]["status"] == "failed"
    assert states[1]["error"]["code"] == "upstream_error"
    final = _record_when(stack, submitted.headers["x-request-id"], "failed")
    assert final["status"] == 502
    assert final["error_code"] == "upstream_error"
    assert final["cost_usd"] == 0


def test_another_projects_key_and_another_orgs_key_get_404_for_a_job_and_no_key_gets_401(
    stack: EmbeddedStack, studio: tuple[Org, httpx.Client]
) -> None:
    """The attacker holds a real API key of a sibling project (same org) or of another org, and the id."""
    org, client = studio
    job_id = _submit(client, f"@j-fal/{MODELS['fal']}").json()["id"]
    sibling = org.owner.post("/projects", json={"name": f"other-{secrets.token_hex(3)}"})
    assert sibling.status_code == 201, sibling.text
    attackers = [_client(stack, org.api_key(sibling.json()["id"])), _client(stack, bootstrap(stack).api_key())]
    for attacker in attackers:
        refused = attacker.get(f"/jobs/{job_id}")
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
    anonymous = httpx.get(f"{stack.gateway_url}/v1/jobs/{job_id}", timeout=10)
    assert anonymous.status_code == 401
    # the owner still reads it (the background poller may have moved it on meanwhile)
    assert client.get(f"/jobs/{job_id}").json()["status"] in {"running", "succeeded"}
    same_project = _client(stack, org.api_key())  # another key of the creating project may read it
    assert same_project.get(f"/jobs/{job_id}").json()["status"] == "succeeded"


@pytest.mark.parametrize("job_id", ["job_" + "A" * 32, "nope", "job_../../x", "a.b.c"])
def test_an_unknown_or_malformed_job_id_answers_404_not_found(studio: tuple[Org, httpx.Client], job_id: str) -> None:
    _org, client = studio
    refused = client.get(f"/jobs/{job_id}")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_found"


def test_job_ids_are_random_and_never_the_providers_own_id(studio: tuple[Org, httpx.Client], fake: FakeServer) -> None:
    _org, client = studio
    ids = {_submit(client, f"@j-pollo/{MODELS['pollo']}", prompt=f"p-{n}").json()["id"] for n in range(3)}
    assert len(ids) == 3
    assert all(re.fullmatch(r"job_[A-Za-z0-9_-]{32}", job_id) for job_id in ids)
    upstream = str(fake.requests())
    assert not any(job_id.removeprefix("job_") in upstream for job_id in ids)


def test_a_job_the_provider_finishes_within_the_wait_is_answered_with_its_images(
    stack: EmbeddedStack, studio: tuple[Org, httpx.Client]
) -> None:
    _org, client = studio
    answer = client.post("/images/generations", json={"model": f"@j-fal/{MODELS['fal']}", "prompt": "quick"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"][0]["url"]
    assert wait_for_record(stack, answer.headers["x-request-id"]).get("job_status") is None


@pytest.mark.parametrize(("provider", "slug", "cost"), [("fal", "j-fal", 0.025), ("pollo", "j-pollo", 12.5 * 0.04)])
def test_a_job_nobody_fetches_gets_its_final_record_and_cost_from_the_background_poller(
    stack: EmbeddedStack, studio: tuple[Org, httpx.Client], provider: str, slug: str, cost: float
) -> None:
    """The client keeps only the handle and never asks again: the gateway polls the provider
    itself (2 s apart in the test stack) and the record becomes succeeded, with the cost."""
    _org, client = studio
    submitted = _submit(client, f"@{slug}/{MODELS[provider]}", prompt=f"unattended {secrets.token_hex(3)}")
    handle = submitted.json()
    final = _record_when(stack, submitted.headers["x-request-id"], "succeeded", timeout_s=20)
    assert final["status"] == 200
    assert final["cost_usd"] == pytest.approx(cost)
    read = client.get(f"/jobs/{handle['id']}").json()  # kept: a later read gets the result, no new charge
    assert read["status"] == "succeeded"
    assert read["result"]["data"][0]["url"]
    assert _record_when(stack, submitted.headers["x-request-id"], "succeeded")["cost_usd"] == pytest.approx(cost)


def test_a_failed_job_nobody_fetches_is_recorded_failed_by_the_background_poller(
    stack: EmbeddedStack, studio: tuple[Org, httpx.Client]
) -> None:
    _org, client = studio
    submitted = _submit(client, "@j-fal/fal-ai/fault-job-fail", prompt=f"unattended {secrets.token_hex(3)}")
    final = _record_when(stack, submitted.headers["x-request-id"], "failed", timeout_s=20)
    assert (final["status"], final["error_code"], final["cost_usd"]) == (502, "upstream_error", 0)
    assert client.get(f"/jobs/{submitted.json()['id']}").json()["error"]["code"] == "upstream_error"
