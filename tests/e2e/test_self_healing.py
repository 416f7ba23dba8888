"""Short dependency outages do not fail requests whose principal, routing and key are cached
(stale-if-error, bounded by a grace period); longer ones fail cleanly; every request that got a
request id has exactly one activity record, even when its key could not be checked or the gateway
died mid-stream (issue 19).

These scenarios pause (SIGSTOP) or kill real processes, so they run against a stack of their own
with short cache lifetimes: TTL 1 s, grace 5 s, dependency timeouts 0.5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from pymongo import MongoClient

from shared.embedded import free_port, wait_for_port
from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap

pytestmark = pytest.mark.slow
TTL_S, GRACE_S = 1.0, 5.0
SHORT_OUTAGE_S = 2.0  # well inside TTL + grace, even on a busy machine
STALL_MODEL = "selfheal-fault-stall"


@pytest.fixture(scope="module")
def own_stack(fake: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    env = {
        "KEYRELAY_PROVIDER_BASE_URLS": json.dumps(fake.base_urls()),
        "KEYRELAY_UPSTREAM_ALLOW": "127.0.0.1/32",
        "KEYRELAY_PRINCIPAL_TTL_S": str(TTL_S),
        "KEYRELAY_SNAPSHOT_TTL_S": str(TTL_S),
        "KEYRELAY_KEY_CACHE_TTL_S": str(TTL_S),
        "KEYRELAY_STALE_GRACE_S": str(GRACE_S),
        "KEYRELAY_CATALOG_TIMEOUT_S": "0.5",
        "KEYRELAY_KEYVAULT_TIMEOUT_S": "0.5",
    }
    stack = EmbeddedStack(
        data_dir=tmp_path_factory.mktemp("selfheal"), http_port=free_port(), extra_env=env, log_level="debug"
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@dataclass
class World:
    stack: EmbeddedStack
    org: Org
    key: str
    key_id: str


@pytest.fixture(scope="module")
def world(own_stack: EmbeddedStack) -> World:
    org = bootstrap(own_stack)
    org.integration("openai-main")
    response = org.owner.post("/integrations/openai-main/custom-models", json={"slug": STALL_MODEL})
    assert response.status_code == 201, response.text
    key = org.api_key()
    return World(own_stack, org, key, key_id_of(org, key))


def key_id_of(org: Org, key: str) -> str:
    return str(next(k["id"] for k in org.owner.get("/api-keys").json()["data"] if key.startswith(k["prefix"])))


@pytest.fixture(autouse=True)
def resumed(world: World) -> Iterator[None]:
    """Whatever a test paused or killed runs again afterwards."""
    yield
    stack = world.stack
    for name in ("keyvault", "catalog"):
        stack.children[name].signal(signal.SIGCONT)
    if not stack.children["gateway"].running:
        stack.start_service("gateway")
        wait_for_port(stack.http_port, timeout_s=30)
    stack.wait_ready(30)


@contextlib.contextmanager
def paused(stack: EmbeddedStack, name: str) -> Iterator[None]:
    stack.children[name].signal(signal.SIGSTOP)
    try:
        yield
    finally:
        stack.children[name].signal(signal.SIGCONT)


@dataclass
class Outcome:
    request_id: str | None
    status: int
    complete: bool  # a JSON answer, or a stream that ended with [DONE]
    code: str | None = None


async def one(client: httpx.AsyncClient, stream: bool, key: str | None = None) -> Outcome:
    body = {"model": "@openai-main/gpt-4o-mini", "messages": [{"role": "user", "content": "self-heal"}]}
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with client.stream("POST", "/v1/chat/completions", json={**body, "stream": stream}, headers=headers) as r:
        raw = await r.aread()
    rid = r.headers.get("x-request-id")
    if r.status_code != 200:
        return Outcome(rid, r.status_code, complete=False, code=json.loads(raw)["error"]["code"])
    return Outcome(rid, 200, complete=raw.rstrip().endswith(b"[DONE]") if stream else "choices" in json.loads(raw))


async def load(world: World, seconds: float, rate: float = 60.0, *, every_worker: bool = False) -> list[Outcome]:
    """`rate` requests/s for `seconds`, alternately JSON and streamed. `every_worker`: each request
    on a new connection, so every gateway worker (each has its own caches) gets some of them."""
    async with httpx.AsyncClient(
        base_url=world.stack.gateway_url,
        timeout=30,
        headers={"authorization": f"Bearer {world.key}"},
        limits=httpx.Limits(max_keepalive_connections=0 if every_worker else 20),
    ) as client:
        tasks: list[asyncio.Task[Outcome]] = []
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            tasks.append(asyncio.create_task(one(client, stream=len(tasks) % 2 == 1)))
            await asyncio.sleep(max(0.0, began + len(tasks) / rate - time.monotonic()))
        return list(await asyncio.gather(*tasks))


def records(stack: EmbeddedStack, request_ids: set[str], timeout_s: float = 30.0) -> dict[str, dict[str, object]]:
    """The activity documents of these requests, once all are stored (or the timeout passed)."""
    with MongoClient(stack.mongodb_uri) as mongo:
        coll = mongo["keyrelay_activity"]["requests"]
        deadline = time.monotonic() + timeout_s
        while True:
            docs = {d["_id"]: d for d in coll.find({"_id": {"$in": sorted(request_ids)}})}
            if len(docs) == len(request_ids) or time.monotonic() > deadline:
                return docs


def assert_none_failed(world: World, outcomes: list[Outcome]) -> None:
    failed = [o for o in outcomes if not o.complete]
    details = records(world.stack, {str(o.request_id) for o in failed if o.request_id}, timeout_s=5)
    assert failed == [], f"{len(failed)} of {len(outcomes)} failed; their records: {list(details.values())}"


def assert_one_record_each(world: World, outcomes: list[Outcome]) -> dict[str, dict[str, object]]:
    answered = {o.request_id for o in outcomes if o.request_id}
    assert len(answered) == len(outcomes), "every request got an answer with a request id"
    docs = records(world.stack, answered)
    assert set(docs) == answered, f"{len(answered - set(docs))} answered requests without a record"
    with MongoClient(world.stack.mongodb_uri) as mongo:
        ids = [d["_id"] for d in mongo["keyrelay_activity"]["requests"].find({"_id": {"$in": sorted(answered)}})]
    assert len(ids) == len(set(ids)), "duplicated records"
    return docs


async def test_keyvault_paused_within_the_grace_fails_no_request_and_records_say_stale(world: World) -> None:
    """Credentials cached before a short keyvault outage keep serving past their TTL: zero failed
    requests, and the records served from a stale key say so."""
    await load(world, 1.0)
    with paused(world.stack, "keyvault"):
        during = await load(world, SHORT_OUTAGE_S)
    assert_none_failed(world, during)
    docs = assert_one_record_each(world, during)
    stale = [d for d in docs.values() if "credential" in d["served_stale"]]  # type: ignore[operator]
    assert stale, "no record marked as served from a stale credential"
    assert all(d["status"] == 200 for d in stale)


async def test_catalog_paused_within_the_grace_keeps_cached_principals_and_routing_serving(world: World) -> None:
    await load(world, 1.0)
    with paused(world.stack, "catalog"):
        during = await load(world, SHORT_OUTAGE_S)
    assert_none_failed(world, during)
    docs = assert_one_record_each(world, during)
    marks = {m for d in docs.values() for m in d["served_stale"]}  # type: ignore[attr-defined]
    assert {"principal", "routing"} <= marks


async def test_an_outage_longer_than_the_grace_gives_clean_503s_each_with_a_record(world: World) -> None:
    """Past TTL + grace the cached principal is no longer trusted: 503 `dependency_unavailable`,
    recorded with whom the key belonged to and its public prefix; service resumes afterwards."""
    await load(world, 0.5, rate=20)
    with paused(world.stack, "catalog"):
        during = await load(world, TTL_S + GRACE_S + 3.0, rate=20)
    after = await load(world, 1.0, rate=20)
    failed = [o for o in during if o.status != 200]
    assert failed, "the grace did not end"
    assert {(o.status, o.code) for o in failed} == {(503, "dependency_unavailable")}
    docs = assert_one_record_each(world, during)
    failed_docs = [docs[str(o.request_id)] for o in failed]
    for doc in failed_docs:  # past the grace of the routing snapshot, or (later) of the principal
        assert (doc["status"], doc["error_code"]) == (503, "dependency_unavailable")
        assert doc["api_key_id"] == world.key_id
    at_auth = [d for d in failed_docs if d["api_key_prefix"] is not None]
    assert at_auth, "no request failed while checking its key"
    assert {d["api_key_prefix"] for d in at_auth} == {world.key[:7]}
    assert all(o.complete for o in after[5:]), "the gateway did not recover once catalog was back"


async def test_a_key_that_cannot_be_checked_gets_503_and_a_record_with_its_prefix_never_the_key(world: World) -> None:
    never_used = world.org.api_key()
    with paused(world.stack, "catalog"):
        async with httpx.AsyncClient(base_url=world.stack.gateway_url, timeout=30) as client:
            outcome = await one(client, stream=False, key=never_used)
    assert (outcome.status, outcome.code) == (503, "dependency_unavailable")
    doc = records(world.stack, {str(outcome.request_id)})[str(outcome.request_id)]
    assert doc["api_key_prefix"] == never_used[:7]
    assert (doc["org_id"], doc["status"]) == ("", 503)
    assert never_used not in json.dumps(doc, default=str)


async def test_a_revoked_key_is_not_served_stale_when_catalog_becomes_unreachable(world: World) -> None:
    """The revocation event drops the cached principal at once: no grace applies to it."""
    key = world.org.api_key()
    async with httpx.AsyncClient(base_url=world.stack.gateway_url, timeout=30) as client:
        assert (await one(client, stream=False, key=key)).status == 200
        assert world.org.owner.delete(f"/api-keys/{key_id_of(world.org, key)}").status_code == 204
        await asyncio.sleep(0.3)  # the change event reaches the gateway
        with paused(world.stack, "catalog"):
            await asyncio.sleep(TTL_S)
            outcome = await one(client, stream=False, key=key)
    assert outcome.status != 200


async def test_after_a_nats_restart_caches_are_revalidated_and_no_request_fails(world: World) -> None:
    """A reconnect no longer empties the caches: while catalog and keyvault reconnect, requests are
    answered from entries awaiting revalidation; every record is stored once. (Every worker is
    warmed first: a worker whose routing was dropped by an earlier test's change event, and that
    the warm-up did not reach, has nothing to answer from while catalog is away.)"""
    stack = world.stack
    await load(world, 1.0, every_worker=True)
    stack.children["nats"].stop()
    stack.children["nats"].start()
    wait_for_port(stack.nats_port)
    during = await load(world, 2.0)
    assert_none_failed(world, during)
    assert_one_record_each(world, during)


async def test_a_gateway_killed_mid_stream_leaves_an_interrupted_record_after_restart(world: World) -> None:
    """Streams whose first byte went out when the gateway was SIGKILLed are recorded as
    `interrupted` by the restarted gateway's spool replay: one record each, none lost."""
    stack = world.stack
    body = {"model": f"@openai-main/{STALL_MODEL}", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, timeout=30, headers={"authorization": f"Bearer {world.key}"}
    ) as client:
        background = asyncio.create_task(load(world, 1.5, rate=40))
        cut: set[str] = set()

        async def stalled() -> None:
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                async for _ in response.aiter_bytes():
                    cut.add(response.headers["x-request-id"])
                    await asyncio.sleep(3600)  # the stall: the gateway is killed meanwhile

        streams = [asyncio.create_task(stalled()) for _ in range(3)]
        answered = await background
        deadline = time.monotonic() + 10
        while len(cut) < len(streams) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stack.children["gateway"].kill()
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    assert len(cut) == len(streams)
    stack.start_service("gateway")
    wait_for_port(stack.http_port, timeout_s=30)
    docs = records(stack, cut)
    assert {d["stream_outcome"] for d in docs.values()} == {"interrupted"}, docs
    assert all(d["api_key_id"] == world.key_id and d["stream"] is True for d in docs.values())
    assert_one_record_each(world, answered)
