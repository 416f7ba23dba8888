"""An overloaded gateway answers new inference requests 503 `overloaded` at once, before any work."""

from __future__ import annotations

import asyncio

import httpx
from litestar import Litestar, get, post

from gateway import metrics
from gateway.api.admission import Admission

released = [False]
handled: list[str] = []


@post("/v1/chat/completions", status_code=200)
async def slow_inference() -> dict[str, str]:
    handled.append("chat")
    while not released[0]:
        await asyncio.sleep(0.01)
    return {"ok": "yes"}


@get("/v1/models")
async def models() -> dict[str, str]:
    return {"object": "list"}


def client_for(admission: Admission) -> httpx.AsyncClient:
    app = Litestar(route_handlers=[slow_inference, models], middleware=[admission.middleware])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


def refused(reason: str) -> float:
    return metrics.OVERLOAD_REFUSED.labels(reason)._value.get()


async def test_past_max_inflight_a_new_inference_request_gets_503_overloaded_with_retry_after() -> None:
    admission = Admission(max_inflight=1, max_backlog=0)
    released[0] = False
    handled.clear()
    before = refused("inflight")
    async with client_for(admission) as client:
        first = asyncio.create_task(client.post("/v1/chat/completions", json={"model": "m"}))
        while admission.inflight < 1:
            await asyncio.sleep(0.01)
        second = await client.post("/v1/chat/completions", json={"model": "m"})
        assert (await client.get("/v1/models")).status_code == 200, "non-inference routes are not limited"
        released[0] = True
        assert (await first).status_code == 200
        third = await client.post("/v1/chat/completions", json={"model": "m"})
    assert second.status_code == 503
    assert second.json()["error"]["code"] == "overloaded"
    assert second.json()["error"]["type"] == "server_error"
    assert int(second.headers["retry-after"]) >= 1
    assert second.headers["x-request-id"].startswith("req")
    assert handled == ["chat", "chat"], "the refused request reached no handler"
    assert third.status_code == 200, "admitted again once the first finished"
    assert admission.inflight == 0
    assert refused("inflight") == before + 1


async def test_a_publish_backlog_past_its_bound_refuses_inference_until_it_drains() -> None:
    backlog = [101]
    admission = Admission(max_inflight=0, max_backlog=100, backlog=lambda: backlog[0])
    released[0] = True
    before = refused("backlog")
    async with client_for(admission) as client:
        refused_response = await client.post("/v1/chat/completions", json={"model": "m"})
        backlog[0] = 100
        admitted = await client.post("/v1/chat/completions", json={"model": "m"})
    assert refused_response.status_code == 503
    assert refused_response.json()["error"]["code"] == "overloaded"
    assert admitted.status_code == 200
    assert refused("backlog") == before + 1
