"""The fake FAL queue and Pollo tasks, including their webhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from tests.unit.fakes.conftest import KEYS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FAL = {"authorization": f"Key {KEYS['fal']}"}
POLLO = {"x-api-key": KEYS["pollo"]}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback webhook receiver: its URL and what it got (headers, raw body)."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    finally:
        await runner.cleanup()


async def wait_for(received: list[object], count: int) -> None:
    async with asyncio.timeout(5):
        while len(received) < count:
            await asyncio.sleep(0.02)


async def test_fal_queue_goes_in_queue_in_progress_completed_then_serves_the_result(providers, http):
    """Submit to a sub-path app; status/result URLs use owner/app only; early result is 'in progress'."""
    async with http.post(
        providers.base_urls()["fal"] + "/fal-ai/flux/dev", json={"prompt": "a cat"}, headers=FAL
    ) as resp:
        job = await resp.json()
    assert "/fal/fal-ai/flux/requests/" in job["status_url"]
    async with http.get(job["response_url"], headers=FAL) as resp:
        assert (await resp.json())["detail"] == "Request is still in progress"
    statuses = []
    for _ in range(3):
        async with http.get(job["status_url"], headers=FAL) as resp:
            statuses.append((await resp.json())["status"])
    assert statuses == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    async with http.get(job["response_url"], headers=FAL) as resp:
        result = await resp.json()
    async with http.get(result["images"][0]["url"]) as resp:
        assert resp.content_type == "image/png"


async def test_fal_refuses_bearer_auth_and_validates_input(providers, http):
    """`Authorization: Key` is required; a body without prompt is a FastAPI-style 422."""
    url = providers.base_urls()["fal"] + "/fal-ai/flux/dev"
    async with http.post(url, json={"prompt": "x"}, headers={"authorization": f"Bearer {KEYS['fal']}"}) as resp:
        assert resp.status == 401
    async with http.post(url, json={}, headers=FAL) as resp:
        assert (resp.status, (await resp.json())["detail"][0]["loc"]) == (422, ["body", "prompt"])


async def test_fal_failed_job_completes_with_an_error(providers, http):
    """fault-job-fail: COMPLETED with error/error_type set."""
    async with http.post(
        providers.base_urls()["fal"] + "/fal-ai/fault-job-fail", json={"prompt": "x"}, headers=FAL
    ) as resp:
        job = await resp.json()
    for _ in range(3):
        async with http.get(job["status_url"], headers=FAL) as resp:
            last = await resp.json()
    assert last["status"] == "COMPLETED"
    assert last["error"]


async def test_fal_webhook_is_delivered_more_than_once(providers, http, receiver):
    """With ?fal_webhook= the result is POSTed (twice) with status OK and the payload."""
    url, received = receiver
    submit = providers.base_urls()["fal"] + "/fal-ai/kling-video/v3/pro/image-to-video"
    async with http.post(submit, params={"fal_webhook": url}, json={"prompt": "x"}, headers=FAL) as resp:
        request_id = (await resp.json())["request_id"]
    await wait_for(received, 2)
    assert all(f'"request_id":"{request_id}"'.encode() in body for _, body in received)
    assert b'"video"' in received[0][1]


async def test_pollo_task_moves_waiting_processing_succeed(providers, http):
    """Submit (enveloped), then status generations waiting -> processing -> succeed with a URL."""
    async with http.post(
        providers.base_urls()["pollo"] + "/generation/pollo/pollo-v2-0",
        json={"input": {"prompt": "boat"}},
        headers=POLLO,
    ) as resp:
        task_id = (await resp.json())["data"]["taskId"]
    statuses = []
    for _ in range(3):
        async with http.get(f"{providers.base_urls()['pollo']}/generation/{task_id}/status", headers=POLLO) as resp:
            generation = (await resp.json())["generations"][0]
            statuses.append(generation["status"])
    assert statuses == ["waiting", "processing", "succeed"]
    assert generation["url"].endswith(".mp4")


async def test_pollo_no_credits_is_403_and_bad_key_is_401(providers, http):
    """`{"code": "FORBIDDEN", "message": "Not enough credits"}`; x-api-key checked first."""
    url = providers.base_urls()["pollo"] + "/generation/pollo/m-fault-no-credits"
    async with http.post(url, json={"input": {"prompt": "x"}}, headers=POLLO) as resp:
        assert (resp.status, (await resp.json())["message"]) == (403, "Not enough credits")
    async with http.post(url, json={"input": {"prompt": "x"}}, headers={"x-api-key": "bad"}) as resp:
        assert (resp.status, (await resp.json())["code"]) == (401, "UNAUTHORIZED")


async def test_pollo_webhook_is_signed_with_hmac_over_id_timestamp_body(providers, http, receiver):
    """X-Webhook-Signature = base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}"))."""
    url, received = receiver
    async with http.post(
        providers.base_urls()["pollo"] + "/v1/generation/pollo-ai/pollo-v2/video",
        json={"input": {"prompt": "x"}, "webhookUrl": url},
        headers=POLLO,
    ) as resp:
        assert resp.status == 200
    await wait_for(received, 2)
    headers, body = received[0]
    secret = base64.b64decode(providers.options.pollo_webhook_secret)
    signed = f"{headers['X-Webhook-Id']}.{headers['X-Webhook-Timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    assert headers["X-Webhook-Signature"] == expected
