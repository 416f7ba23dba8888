"""Your economics: per-integration discounts and negotiated prices in every cost, budget and summary.

gpt-4o-mini lists at 0.15 USD per million input tokens (0.075 cached) and 0.6 per million output.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import openai
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record
from tests.e2e.test_management import client

LIST = {"input": 0.15, "cached": 0.075, "output": 0.6}


def chat(org: Org, key: str, model: str, *, stream: bool = False) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = httpx.post(
        f"{org.stack.gateway_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code in {200, 402}, response.text
    return response


def list_cost(usage: dict[str, Any], input_price: float, cached_price: float, output_price: float) -> float:
    fresh = usage["prompt_tokens"] - usage["cached_tokens"] - usage.get("cache_write_tokens", 0)
    cached = usage["cached_tokens"]
    return (fresh * input_price + cached * cached_price + usage["completion_tokens"] * output_price) / 1_000_000


def member(org: Org, role: str) -> httpx.Client:
    email = f"{role}-{time.time_ns()}@example.com"
    token = org.owner.post("/members", json={"email": email, "projects": {org.project_id: role}}).json()["token"]
    return client(org.stack, token)


@pytest.fixture(scope="module")
def econ(stack: EmbeddedStack) -> Org:
    org = bootstrap(stack)
    org.integration("disc")
    org.integration("negotiated")
    org.integration("plain")
    return org


def test_a_discount_lowers_the_cost_and_the_list_cost_stays_beside_it(econ: Org) -> None:
    """20 % off: the record's cost_usd is 80 % of its list_cost_usd, which is the catalog price."""
    saved = econ.owner.put("/integrations/disc/pricing", json={"discount_pct": 20})
    assert saved.status_code == 200, saved.text
    assert saved.json()["discount_pct"] == 20
    row = next(p for p in saved.json()["prices"] if p["model"] == "gpt-4o-mini")
    assert row["basis"] == "discount"
    assert row["effective"]["input_per_mtok"] == pytest.approx(0.12)
    key = econ.api_key()
    for stream in (False, True):
        doc = wait_for_record(econ.stack, chat(econ, key, "@disc/gpt-4o-mini", stream=stream).headers["x-request-id"])
        expected_list = list_cost(doc["usage"], LIST["input"], LIST["cached"], LIST["output"])
        assert doc["list_cost_usd"] == pytest.approx(expected_list)
        assert doc["cost_usd"] == pytest.approx(expected_list * 0.8)
        assert doc["cost_usd"] > 0


def test_an_explicit_price_replaces_the_list_price_for_that_model(econ: Org) -> None:
    terms = {
        "discount_pct": 50,
        "models": {"gpt-4o-mini": {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "cached_input_per_mtok": 0.5}},
    }
    saved = econ.owner.put("/integrations/negotiated/pricing", json=terms)
    assert saved.status_code == 200, saved.text
    row = next(p for p in saved.json()["prices"] if p["model"] == "gpt-4o-mini")
    assert row["basis"] == "explicit"
    assert row["list"]["input_per_mtok"] == LIST["input"]
    assert econ.owner.get("/integrations/negotiated/pricing").json()["models"] == terms["models"]
    doc = wait_for_record(econ.stack, chat(econ, econ.api_key(), "@negotiated/gpt-4o-mini").headers["x-request-id"])
    assert doc["cost_usd"] == pytest.approx(list_cost(doc["usage"], 1.0, 0.5, 2.0))  # the entry, not the discount
    assert doc["list_cost_usd"] == pytest.approx(list_cost(doc["usage"], LIST["input"], LIST["cached"], LIST["output"]))


def test_a_price_change_applies_from_the_moment_it_is_saved_and_old_records_keep_theirs(econ: Org) -> None:
    slug = f"moment-{time.time_ns()}"
    econ.integration(slug)
    key = econ.api_key()
    before = wait_for_record(econ.stack, chat(econ, key, f"@{slug}/gpt-4o-mini").headers["x-request-id"])
    assert before["cost_usd"] == pytest.approx(before["list_cost_usd"])
    assert econ.owner.put(f"/integrations/{slug}/pricing", json={"discount_pct": 100}).status_code == 200
    after = wait_for_record(econ.stack, chat(econ, key, f"@{slug}/gpt-4o-mini").headers["x-request-id"])
    assert after["cost_usd"] == 0
    assert after["list_cost_usd"] > 0
    again = wait_for_record(econ.stack, before["_id"])
    assert again["cost_usd"] == before["cost_usd"] > 0


def test_the_summary_shows_list_and_effective_cost_so_the_savings_show(econ: Org) -> None:
    """The integration summary's cost_usd and list_cost_usd each add up to its records'."""
    slug = f"summed-{time.time_ns()}"
    econ.integration(slug)
    assert econ.owner.put(f"/integrations/{slug}/pricing", json={"discount_pct": 25}).status_code == 200
    key = econ.api_key()
    docs = [wait_for_record(econ.stack, chat(econ, key, f"@{slug}/gpt-4o-mini").headers["x-request-id"]) for _ in "ab"]
    deadline = time.monotonic() + 10
    group: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = econ.owner.get("/activity/summary", params={"group_by": "integration"}).json()["data"]
        group = next((g for g in data if g["key"] == slug), {})
        if group.get("requests") == len(docs):
            break
        time.sleep(0.2)
    assert group["cost_usd"] == pytest.approx(sum(d["cost_usd"] for d in docs))
    assert group["list_cost_usd"] == pytest.approx(sum(d["list_cost_usd"] for d in docs))
    assert group["cost_usd"] == pytest.approx(group["list_cost_usd"] * 0.75)


def test_a_budget_is_spent_at_the_effective_price(econ: Org) -> None:
    """At a negotiated price 1000 times the list price, a budget of three and a half requests lets
    exactly four through (at list price it would take thousands)."""
    slug = f"budget-{time.time_ns()}"
    econ.integration(slug)
    price = {"input_per_mtok": LIST["input"] * 1000, "output_per_mtok": LIST["output"] * 1000}
    saved = econ.owner.put(f"/integrations/{slug}/pricing", json={"models": {"gpt-4o-mini": price}})
    assert saved.status_code == 200, saved.text
    probe = wait_for_record(econ.stack, chat(econ, econ.api_key(), f"@{slug}/gpt-4o-mini").headers["x-request-id"])
    assert probe["cost_usd"] == pytest.approx(probe["list_cost_usd"] * 1000)
    limited = econ.api_key(budget_usd=probe["cost_usd"] * 3.5, budget_period="day")
    statuses = []
    for _ in range(8):
        statuses.append(chat(econ, limited, f"@{slug}/gpt-4o-mini").status_code)
        if statuses[-1] == 402:
            break
        time.sleep(0.3)  # accounting happens right after each answer
    assert statuses == [200, 200, 200, 200, 402], statuses


def test_bad_pricing_gets_a_clear_400_with_a_stable_code(econ: Org) -> None:
    cases = [
        ({"discount_pct": -1}, "invalid_discount"),
        ({"discount_pct": 100.5}, "invalid_discount"),
        ({"models": {"gpt-4o-mini": {"input_per_mtok": -0.1}}}, "invalid_price"),
        ({"models": {"gpt-4o-mini": {"per_credit": 2e6}}}, "invalid_price"),
        ({"models": {"gpt-4o-mini": {}}}, "invalid_price"),
        ({"models": {"no-such-model": {"input_per_mtok": 1}}}, "invalid_model"),
        ({"models": {"gpt-4o-mini": {"input_per_mtok": 1, "bogus": 2}}}, "invalid_request"),
        ({"discount_pct": "ten"}, "invalid_request"),
    ]
    for body, code in cases:
        response = econ.owner.put("/integrations/plain/pricing", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == code, (body, response.text)
    assert econ.owner.get("/integrations/plain/pricing").json()["discount_pct"] == 0  # nothing was stored
    assert econ.owner.put("/integrations/nope/pricing", json={"discount_pct": 5}).status_code == 404


def test_a_project_admin_reads_pricing_but_cannot_change_it_and_a_developer_does_neither(econ: Org) -> None:
    """The attack: a project admin's and a developer's real tokens try to set their own prices."""
    admin, developer = member(econ, "admin"), member(econ, "developer")
    assert admin.get("/integrations/disc/pricing").status_code == 200
    for attacker in (admin, developer):
        refused = attacker.put("/integrations/disc/pricing", json={"discount_pct": 100})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "owner_required"
    read = developer.get("/integrations/disc/pricing")
    assert read.status_code == 403, read.text
    assert econ.owner.get("/integrations/disc/pricing").json()["discount_pct"] == 20


def test_a_project_admin_outside_the_integrations_scope_cannot_see_its_pricing(stack: EmbeddedStack) -> None:
    org = bootstrap(stack)
    other = org.owner.post("/projects", json={"name": "elsewhere"}).json()
    org.integration("scoped", project_scope=[org.project_id])
    token = org.owner.post(
        "/members", json={"email": "admin-elsewhere@example.com", "projects": {other["id"]: "admin"}}
    ).json()["token"]
    assert client(stack, token).get("/integrations/scoped/pricing").status_code == 404


def test_a_price_change_is_audited_with_who_and_the_new_terms(econ: Org) -> None:
    slug = f"audited-{time.time_ns()}"
    econ.integration(slug)
    terms = {"discount_pct": 7.5, "models": {"gpt-4o-mini": {"input_per_mtok": 0.1}}}
    assert econ.owner.put(f"/integrations/{slug}/pricing", json=terms).status_code == 200
    deadline = time.monotonic() + 10
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        page = econ.owner.get("/audit", params={"limit": 200}).json()["data"]
        found = [e for e in page if e["action"] == "integration.pricing" and e["detail"].get("slug") == slug]
        time.sleep(0.2)
    assert found, "no audit entry for the price change"
    event = found[0]
    assert event["actor_role"] == "owner"
    assert event["detail"]["discount_pct"] == "7.5"
    assert event["detail"]["models"] == "gpt-4o-mini"


def test_route_explain_shows_the_effective_and_the_list_price(econ: Org) -> None:
    explained = econ.owner.post(
        "/route/explain", json={"model": "@disc/gpt-4o-mini", "project_id": econ.project_id}
    ).json()
    step = explained["plan"][0]
    assert step["list_pricing"]["input_per_mtok"] == LIST["input"]
    assert step["pricing"]["input_per_mtok"] == pytest.approx(LIST["input"] * 0.8)


def test_a_cost_the_provider_reports_is_charged_at_the_integrations_terms(
    stack: EmbeddedStack, fake: FakeServer
) -> None:
    """Perplexity's own `usage.cost` is the list cost; with 30 % off the record charges 70 % of it
    (JSON and stream), and a model with an explicit price is charged that price instead."""
    org = bootstrap(stack)
    key = f"pplx-{secrets.token_hex(10)}"
    fake.add_key("perplexity", key)
    body = {
        "provider": "perplexity",
        "name": "pplx",
        "slug": "pplx",
        "credentials": {"api_key": key},
        "models": {"enabled": ["sonar", "sonar-deep-research"]},
    }
    assert org.owner.post("/integrations", json=body).status_code == 201
    explicit = {"input_per_mtok": 4.0, "output_per_mtok": 9.0}
    terms = {"discount_pct": 30, "models": {"sonar-deep-research": explicit}}
    assert org.owner.put("/integrations/pplx/pricing", json=terms).status_code == 200
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=org.api_key(), max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="@pplx/sonar-deep-research", messages=[{"role": "user", "content": "research kites"}]
    )
    answer = raw.parse()
    assert answer.usage is not None
    reported = answer.usage.model_extra["cost"]["total_cost"]  # type: ignore[index]
    doc = wait_for_record(stack, raw.headers["x-request-id"])
    assert doc["list_cost_usd"] == pytest.approx(reported)
    usage = doc["usage"]
    assert doc["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 4.0 + usage["completion_tokens"] * 9.0) / 1e6)
    raw = client.chat.completions.with_raw_response.create(
        model="@pplx/sonar", messages=[{"role": "user", "content": "hello"}]
    )
    reported = raw.parse().usage.model_extra["cost"]["total_cost"]  # type: ignore[union-attr]
    doc = wait_for_record(stack, raw.headers["x-request-id"])
    assert doc["list_cost_usd"] == pytest.approx(reported)
    assert reported > 0
    assert doc["cost_usd"] == pytest.approx(reported * 0.7)
    raw_stream = client.chat.completions.with_raw_response.create(
        model="@pplx/sonar",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    list(raw_stream.parse())
    streamed = wait_for_record(stack, raw_stream.headers["x-request-id"])
    assert streamed["list_cost_usd"] > 0
    assert streamed["cost_usd"] == pytest.approx(streamed["list_cost_usd"] * 0.7)
