"""Activity reads through the management API: summaries add up, pages are stable, orgs are sealed."""

from __future__ import annotations

import time

import httpx
import pytest
from pymongo import MongoClient

from shared.stack import EmbeddedStack
from tests.conftest import Org, bootstrap


@pytest.fixture(scope="module")
def busy_org(stack: EmbeddedStack) -> tuple[Org, list[str]]:
    org = bootstrap(stack)
    org.integration("sum-a")
    org.integration("sum-b")
    key = org.api_key()
    ids = []
    with httpx.Client(base_url=stack.gateway_url, headers={"authorization": f"Bearer {key}"}, timeout=30) as client:
        for i in range(24):
            model = "@sum-a/gpt-4o-mini" if i % 3 else "@sum-b/gpt-4o-mini"
            if i % 8 == 0:
                model = "@sum-a/nope"  # a 404 counts as an error request
            response = client.post(
                "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": f"n{i}"}]}
            )
            ids.append(response.headers["x-request-id"])
    deadline = time.monotonic() + 30
    with MongoClient(stack.mongodb_uri) as mongo:
        while mongo["keyrelay_activity"]["requests"].count_documents({"org_id": org.org_id}) < len(ids):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    return org, ids


def test_the_summary_equals_the_sum_of_the_documents(busy_org: tuple[Org, list[str]]) -> None:
    """Requests, errors, every token count and both costs per integration add up to the raw documents."""
    org, _ = busy_org
    summary = org.owner.get("/activity/summary", params={"group_by": "integration"}).json()["data"]
    with MongoClient(org.stack.mongodb_uri) as mongo:
        docs = list(mongo["keyrelay_activity"]["requests"].find({"org_id": org.org_id}))
    for row in summary:
        mine = [d for d in docs if d.get("integration") == row["key"]]
        assert row["requests"] == len(mine)
        assert row["errors"] == sum(1 for d in mine if d["status"] >= 400)
        for tokens in ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens"):
            assert row[tokens] == sum(d["usage"][tokens] for d in mine), tokens
        assert row["cost_usd"] == pytest.approx(sum(d["cost_usd"] for d in mine))
        assert row["list_cost_usd"] == pytest.approx(sum(d.get("list_cost_usd") or 0 for d in mine))
        assert row["p50_latency_ms"] is not None
    assert sum(r["requests"] for r in summary) == len(docs)
    assert sum(r["total_tokens"] for r in summary) > 0


def test_listing_pages_through_every_request_once(busy_org: tuple[Org, list[str]]) -> None:
    """Cursor pagination returns each request exactly once, newest first."""
    org, ids = busy_org
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = org.owner.get("/activity", params=params).json()
        seen += [r["request_id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))


def test_another_org_sees_none_of_it(busy_org: tuple[Org, list[str]], stack: EmbeddedStack) -> None:
    """Another org's owner gets 404 for a request id and an empty list and summary."""
    _, ids = busy_org
    other = bootstrap(stack)
    assert other.owner.get(f"/activity/{ids[0]}").status_code == 404
    assert other.owner.get("/activity").json()["data"] == []
    assert other.owner.get("/activity/summary").json()["data"] == []


def test_filters_narrow_the_listing(busy_org: tuple[Org, list[str]]) -> None:
    """`integration` and `status` filters return only matching documents."""
    org, _ = busy_org
    only_b = org.owner.get("/activity", params={"integration": "sum-b", "limit": 100}).json()["data"]
    assert only_b
    assert {r["integration"] for r in only_b} == {"sum-b"}
    errors = org.owner.get("/activity", params={"status": 404, "limit": 100}).json()["data"]
    assert {r["error_code"] for r in errors} == {"model_not_found"}
