"""Faults in the production shape (issue 17): `just cluster`'s `ClusterStack` (3 NATS nodes over TLS,
JetStream R3, two replicas of every service, SecantusDB) under a bounded load of mixed JSON and
streamed requests spread over both gateways, as clients without a load balancer do (a request
that gets no HTTP answer goes to the other gateway, as a balancer's redispatch would).

Each scenario: load, the fault, the killed part brought back as an orchestrator would, load
after. Checked after each: every 2xx answer has exactly one activity record; fewer than 0.5 % of
the requests sent from the fault until shortly after recovery failed, each with an HTTP error or a
stream error event (a stream cut without either is allowed only on the gateway replica that was
killed, where the client sees the connection break); nothing that was not killed was restarted.
After all of them: limits and budgets hold across the gateway replicas, and no secret is in any log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy
from pymongo import MongoClient

from scripts import devca
from scripts.cluster import ClusterStack
from shared import subjects
from shared.bus import connect
from shared.embedded import free_port
from shared.provision import BUCKETS
from shared.secret import Secret
from shared.settings import CommonSettings
from tests.conftest import PROVIDER_KEY, FakeServer, Org, bootstrap
from tests.e2e.test_fault_matrix import MAX_FAILED_SHARE, Outcome, Run

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
RATE = float(os.environ.get("KEYRELAY_TEST_FAULT_RATE", "200"))  # requests per second, half streamed
BEFORE_S, AFTER_S = 1.5, 2.0
DOWN_S = 2.0  # how long a killed replica stays down (under load) before it is started again
DB_PAUSE_S = 10.0
NODE_PAUSE_S = 5.0
RECOVERY_LIMIT_S = 45.0  # a restarted replica imports its framework on a busy 2-core box: slow, not a fault


@dataclass
class Cluster:
    stack: ClusterStack
    org: Org
    api_key: str


@pytest.fixture(scope="module")
def cluster(fake: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = {
        "KEYRELAY_PROVIDER_BASE_URLS": json.dumps(fake.base_urls()),
        "KEYRELAY_UPSTREAM_ALLOW": "127.0.0.1/32",
        "KEYRELAY_HTTP_WORKERS": "1",
    }
    stack = ClusterStack(
        data_dir=tmp_path_factory.mktemp("cluster"),
        http_port=free_port(),
        gateway_ports=[free_port(), free_port()],
        use_haproxy=True,  # in front when Debian's haproxy is installed (the fault load uses the gateways directly)
        extra_env=env,
        log_level="debug",  # every line readable after a failure, as in the session stack
    )
    try:
        stack.start()
        org = bootstrap(stack)
        org.integration("openai")
        key = org.api_key()
        cluster = Cluster(stack, org, key)
        warm = asyncio.run(_load_for(cluster, 2.0))  # every gateway caches the principal, routing and key
        assert all(o.complete for o in warm), [o.detail for o in warm if not o.complete][:3]
        yield cluster
    finally:
        stack.stop()


async def _attempt(session: aiohttp.ClientSession, url: str, *, stream: bool, started: float) -> Outcome:
    """One request with aiohttp (a lighter client than httpx, so the load generator, on the same
    cores as the cluster, can send more): the same `Outcome` as the single-node fault matrix."""
    body = {"model": "@openai/gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "fault"}]}
    out = Outcome(started, 0, stream=stream)
    try:
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            out.status, out.request_id = response.status, response.headers.get("x-request-id")
            raw = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        out.detail = repr(exc)
        return out
    out.judge(raw)
    return out


async def _one(session: aiohttp.ClientSession, urls: list[str], first: int, *, stream: bool) -> Outcome:
    """One request to gateway `first`; without any HTTP answer (that gateway is down) it goes to
    the next one, twice at most. A stream cut after its 200 is not retried."""
    started, lost = time.monotonic(), 0
    while True:
        index = (first + lost) % len(urls)
        out = await _attempt(session, urls[index], stream=stream, started=started)
        if out.status != 0 or lost == 2:
            out.lost = lost
            out.detail = f"gateway-{index + 1} {out.detail}"
            return out
        lost += 1


async def _load_until(cluster: Cluster, stop: asyncio.Event) -> list[Outcome]:
    urls = cluster.stack.gateway_urls
    async with aiohttp.ClientSession(
        headers={"authorization": f"Bearer {cluster.api_key}"},
        timeout=aiohttp.ClientTimeout(total=30),
        connector=aiohttp.TCPConnector(limit=400),
    ) as session:
        tasks: list[asyncio.Task[Outcome]] = []
        began = time.monotonic()
        while not stop.is_set():
            n = len(tasks)
            tasks.append(asyncio.create_task(_one(session, urls, n % len(urls), stream=n % 4 >= 2)))
            await asyncio.sleep(max(0.0, began + len(tasks) / RATE - time.monotonic()))
        return list(await asyncio.gather(*tasks))


async def _load_for(cluster: Cluster, seconds: float) -> list[Outcome]:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return await _load_until(cluster, stop)


async def _until(check: Callable[[], bool], what: str, limit_s: float = RECOVERY_LIMIT_S) -> None:
    deadline = time.monotonic() + limit_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not back after {limit_s}s")
        await asyncio.sleep(0.1)


def _all_ready(stack: ClusterStack) -> bool:
    for url in stack.gateway_urls:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return all(stack.node_healthy(i) for i in range(stack.nodes))


def _started_count(stack: ClusterStack, name: str) -> int:
    log = stack.logs / f"{name}.log"
    return log.read_text(errors="replace").count('"service.started"') if log.is_file() else 0


async def _restart_replica(stack: ClusterStack, name: str) -> None:
    """Start the killed replica again (what Kubernetes or `just cluster`'s supervisor does) and
    wait until it says it serves."""
    before = _started_count(stack, name)
    stack.children[name].start()
    if name.startswith("gateway-"):
        url = stack.gateway_urls[int(name.rsplit("-", 1)[1]) - 1]
        await _until(lambda: _ready(url), f"{name} (ready)")
    else:
        await _until(lambda: _started_count(stack, name) > before, f"{name} (started)")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stream_leader(stack: ClusterStack) -> int:
    """The index of the node leading the activity stream (the one whose loss hurts most)."""
    for index in range(stack.nodes):
        try:
            info = httpx.get(
                f"http://127.0.0.1:{stack.monitor_ports[index]}/jsz?streams=true&raft=true", timeout=2
            ).json()
        except httpx.HTTPError:
            continue
        for account in info.get("account_details", []):
            for stream in account.get("stream_detail", []):
                leader = stream.get("cluster", {}).get("leader")
                if stream.get("name") == "KEYRELAY_ACTIVITY" and leader:
                    return int(str(leader).rsplit("-", 1)[1]) - 1
    return 1


def kill_replica(name: str) -> Callable[[ClusterStack], Awaitable[tuple[float, set[str]]]]:
    async def fault(stack: ClusterStack) -> tuple[float, set[str]]:
        stack.children[name].kill()
        killed_at = time.monotonic()
        await asyncio.sleep(DOWN_S)
        await _restart_replica(stack, name)
        return killed_at, {name}

    return fault


async def kill_leader_node(stack: ClusterStack) -> tuple[float, set[str]]:
    index = _stream_leader(stack)
    stack.nats_node(index).kill()
    killed_at = time.monotonic()
    await asyncio.sleep(DOWN_S)
    stack.start_node(index)
    await _until(lambda: stack.node_healthy(index), f"nats-{index + 1} (current again)")
    return killed_at, {f"nats-{index + 1}"}


def pause(
    name_of: Callable[[ClusterStack], str], seconds: float
) -> Callable[[ClusterStack], Awaitable[tuple[float, set[str]]]]:
    async def fault(stack: ClusterStack) -> tuple[float, set[str]]:
        child = stack.children[name_of(stack)]
        child.signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            child.signal(signal.SIGCONT)
        return time.monotonic(), set()

    return fault


SCENARIOS: dict[str, Callable[[ClusterStack], Awaitable[tuple[float, set[str]]]]] = {
    "nats-leader-killed": kill_leader_node,
    "keyvault-replica-killed": kill_replica("keyvault-1"),
    "catalog-replica-killed": kill_replica("catalog-1"),
    "gateway-replica-killed": kill_replica("gateway-2"),
    "activity-consumer-killed": kill_replica("activity-1"),
    "database-paused": pause(lambda _: "mongo", DB_PAUSE_S),
    "nats-node-paused": pause(lambda s: f"nats-{_stream_leader(s) + 1}", NODE_PAUSE_S),
}


def _pids(stack: ClusterStack) -> dict[str, int]:
    return {name: child.proc.pid for name, child in stack.children.items() if child.proc is not None}


async def _under_load(cluster: Cluster, scenario: str) -> tuple[Run, set[str]]:
    stop = asyncio.Event()
    load = asyncio.create_task(_load_until(cluster, stop))
    await asyncio.sleep(BEFORE_S)
    fault_at = time.monotonic()
    ended_at, killed = await SCENARIOS[scenario](cluster.stack)
    await _until(lambda: _all_ready(cluster.stack), "readiness")
    recovered_at = time.monotonic()
    await asyncio.sleep(AFTER_S)
    stop.set()
    return Run(await load, fault_at, ended_at, recovered_at), killed


def _spool_depths(stack: ClusterStack) -> dict[str, float]:
    """Each gateway's activity events not yet acknowledged by JetStream (its metrics gauge)."""
    depths: dict[str, float] = {}
    for child in stack.replicas_of("gateway"):
        try:
            text = httpx.get(f"http://127.0.0.1:{child.env['KEYRELAY_METRICS_PORT']}/metrics", timeout=2).text
        except httpx.HTTPError:
            depths[child.log_path.stem] = -1.0
            continue
        line = next((x for x in text.splitlines() if x.startswith("keyrelay_gateway_activity_spool_depth ")), "")
        depths[child.log_path.stem] = float(line.split()[-1]) if line else -1.0
    return depths


def _consumer_state(stack: ClusterStack) -> dict[str, object]:
    """The activity stream's durable consumer as the NATS nodes see it (pending, unacknowledged)."""
    for port in stack.monitor_ports:
        try:
            info = httpx.get(f"http://127.0.0.1:{port}/jsz?consumers=true", timeout=2).json()
        except httpx.HTTPError:
            continue
        for account in info.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream.get("name") != subjects.ACTIVITY_STREAM:
                    continue
                for consumer in stream.get("consumer_detail", []):
                    if consumer.get("name") == subjects.ACTIVITY_DURABLE:
                        keys = ("num_pending", "num_ack_pending", "num_redelivered", "num_waiting")
                        return {k: consumer.get(k, 0) for k in keys} | {"last_seq": stream["state"]["last_seq"]}
    return {}


def _drained(stack: ClusterStack) -> bool:
    """Nothing left on the way to the database: no gateway holds an unacknowledged event and the
    activity consumer has neither pending nor unacknowledged messages."""
    state = _consumer_state(stack)
    return (
        all(d == 0 for d in _spool_depths(stack).values())
        and state.get("num_pending") == 0
        and state.get("num_ack_pending") == 0
    )


async def _operator(stack: ClusterStack) -> NatsClient:
    """A connection with the operator's credentials over the cluster's TLS (what an admin uses)."""
    env = stack.operator_env()
    settings = CommonSettings(
        nats_url=env["KEYRELAY_NATS_URL"],
        nats_user="operator",
        nats_password=Secret(env["KEYRELAY_NATS_PASSWORD"]),
        nats_tls_ca=env["KEYRELAY_NATS_TLS_CA"],
    )
    return await connect(settings, "operator", max_reconnect_attempts=1)


async def _in_stream(stack: ClusterStack, request_ids: set[str], last: int) -> set[str]:
    """Which of these request ids are among the activity stream's last `last` messages, batched or
    not (read with the operator's credentials): tells a record the gateway never published from one
    lost later."""
    nc = await _operator(stack)
    found: set[str] = set()
    try:
        js = nc.jetstream()
        info = await js.stream_info(subjects.ACTIVITY_STREAM)
        first = max(info.state.first_seq, info.state.last_seq - last + 1)
        sub = await js.subscribe(
            subjects.ACTIVITY_SUBJECTS,
            ordered_consumer=True,
            config=ConsumerConfig(opt_start_seq=first, deliver_policy=DeliverPolicy.BY_START_SEQUENCE),
        )
        for _ in range(info.state.last_seq - first + 1):
            msg = await sub.next_msg(timeout=5)
            body = json.loads(msg.data)
            ids = {str(e.get("request_id", "")) for e in body.get("events", [body])}  # a batch, or one record
            found.update(ids & request_ids)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return found


def records(stack: ClusterStack, request_ids: set[str], timeout_s: float = 120.0) -> list[dict[str, object]]:
    """The activity records of these requests, once all are stored or nothing is left on the way
    (events still in a gateway's spool or the consumer's backlog are late, not lost: after a
    database pause the activity consumers catch up on a busy 2-core box, which takes a while)."""
    with MongoClient[dict[str, object]](stack.mongodb_uri) as mongo:
        coll = mongo["keyrelay_activity"]["requests"]
        deadline = time.monotonic() + timeout_s
        drained_since: float | None = None
        while True:
            docs = list(
                coll.find({"_id": {"$in": sorted(request_ids)}}, {"_id": 1, "stream_outcome": 1, "cost_usd": 1})
            )
            if {str(d["_id"]) for d in docs} >= request_ids or time.monotonic() > deadline:
                return docs
            if not _drained(stack):
                drained_since = None
            elif drained_since is None:
                drained_since = time.monotonic()
            elif time.monotonic() - drained_since > 5.0:  # drained and still missing: lost
                return docs
            time.sleep(0.3)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_in_the_cluster_a_fault_fails_few_requests_cleanly_and_every_answer_has_exactly_one_record(
    cluster: Cluster, scenario: str
) -> None:
    before = _pids(cluster.stack)
    run, killed = await _under_load(cluster, scenario)
    summary = run.summary()
    span = max(o.started for o in run.outcomes) - min(o.started for o in run.outcomes)
    print(f"{scenario}: {len(run.outcomes) / span:.0f} req/s sent (target {RATE:.0f}); {summary}")
    failed = [o for o in run.window if o.failed]
    assert len(failed) <= MAX_FAILED_SHARE * len(run.window), summary
    # no silent truncation: a stream without [DONE] ended with an error event, except on the
    # gateway replica that was killed (its client sees the connection break, not a clean end)
    cut = [o for o in run.outcomes if o.cut and "gateway-2" not in o.detail]
    assert not cut or scenario == "gateway-replica-killed", summary
    hung = [o for o in run.outcomes if o.status == 0 and "Timeout" in o.detail]  # 30 s without an answer
    assert not hung, summary
    # nothing that was not killed was restarted
    after = _pids(cluster.stack)
    assert {n for n in before if n not in killed and before[n] != after.get(n)} == set()
    answered = [o for o in run.outcomes if 200 <= o.status < 300]
    ids = {str(o.request_id) for o in answered}
    assert len(ids) == len(answered), "a request id was reused"
    docs = await asyncio.to_thread(records, cluster.stack, ids)
    found = [str(d["_id"]) for d in docs]
    assert len(found) == len(set(found)), "duplicated records"
    missing = ids - set(found)
    lost = [
        f"{o.request_id} {'stream' if o.stream else 'json'} at {o.started - run.fault_at:+.2f}s {o.detail}"
        for o in answered
        if str(o.request_id) in missing
    ]
    if missing:
        streamed = await _in_stream(cluster.stack, missing, last=len(run.outcomes) * 3)
        state = f"spools {_spool_depths(cluster.stack)}, consumer {_consumer_state(cluster.stack)}"
        where = f"{len(streamed)} of them are in the activity stream; {state}"
        raise AssertionError(f"{len(missing)} of {len(ids)} answered requests without a record ({where}): {lost[:5]}")
    by_id = {str(d["_id"]): d.get("stream_outcome") for d in docs}
    assert {by_id[str(o.request_id)] for o in answered if o.stream and o.complete} <= {"complete"}


def _wait_for_next_minute_if_close() -> None:
    if time.gmtime().tm_sec > 40:
        time.sleep(61 - time.gmtime().tm_sec)


async def test_in_the_cluster_an_rpm_limit_holds_across_gateway_replicas_while_a_nats_node_dies(
    cluster: Cluster,
) -> None:
    """rpm=20 on a key, requests over both gateways at once while one NATS node is killed: at most
    20 pass (the limits bucket is R3: two nodes still agree on every count). A request that meets
    the bucket while it elects a new leader is refused cleanly (503 `dependency_unavailable`), never
    with an internal error; once the leader is there, the rest are counted as before."""
    stack = cluster.stack
    key = cluster.org.api_key(rpm=20)
    body = {"model": "@openai/gpt-4o-mini", "messages": [{"role": "user", "content": "limit"}]}
    _wait_for_next_minute_if_close()
    async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {key}"}) as client:

        async def burst(n: int) -> list[httpx.Response]:
            urls = stack.gateway_urls
            return list(
                await asyncio.gather(
                    *(client.post(f"{urls[i % len(urls)]}/v1/chat/completions", json=body) for i in range(n))
                )
            )

        stack.nats_node(2).kill()
        try:
            during = await burst(30)
            await _until(lambda: stack.node_healthy(0) and stack.node_healthy(1), "the two nodes left")
            settled = await burst(30)
        finally:
            stack.start_node(2)
    refused = [r.json()["error"]["code"] for r in during if r.status_code == 503]
    assert {r.status_code for r in during} <= {200, 429, 503}, [r.text[:200] for r in during if r.status_code >= 500]
    assert set(refused) <= {"dependency_unavailable"}
    assert {r.status_code for r in settled} <= {200, 429}, [r.text[:200] for r in settled if r.status_code >= 500]
    passed = [r for r in during + settled if r.status_code == 200]
    assert len(passed) <= 20
    if not refused:
        assert len(passed) == 20
    await _until(lambda: stack.node_healthy(2), "nats-3")


async def test_in_the_cluster_a_budget_is_overspent_by_at_most_one_request_in_flight_per_gateway(
    cluster: Cluster,
) -> None:
    """Both gateways spend one key's daily budget at once (one JSON, one streamed request in flight
    each): traffic stops with `budget_exceeded`, and what was spent passes the budget by at most one
    request per replica. (Requests cost ~1e-4 USD here: the counters hold micro-dollars.)"""
    stack = cluster.stack
    content = "spend " * 1500
    probe = httpx.post(
        f"{stack.gateway_urls[0]}/v1/chat/completions",
        json={"model": "@openai/gpt-4o-mini", "messages": [{"role": "user", "content": content}]},
        headers={"authorization": f"Bearer {cluster.api_key}"},
        timeout=30,
    )
    assert probe.status_code == 200, probe.text
    cost = float(str(records(stack, {probe.headers["x-request-id"]})[0]["cost_usd"]))
    assert cost > 50e-6, cost
    budget = round(cost * 10.5, 6)
    key = cluster.org.api_key(budget_usd=budget, budget_period="day")
    answered: list[str] = []

    async def spend(url: str, stream: bool) -> None:
        body = {"model": "@openai/gpt-4o-mini", "messages": [{"role": "user", "content": content}], "stream": stream}
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={"authorization": f"Bearer {key}"}) as client:
            for _ in range(40):
                response = await client.post("/v1/chat/completions", json=body)
                if response.status_code == 402:
                    assert response.json()["error"]["code"] == "budget_exceeded"
                    return
                assert response.status_code == 200, response.text
                answered.append(response.headers["x-request-id"])
                await asyncio.sleep(0.2)  # its cost is added right after the answer
        raise AssertionError("the budget never stopped traffic")

    await asyncio.gather(spend(stack.gateway_urls[0], False), spend(stack.gateway_urls[1], True))
    docs = await asyncio.to_thread(records, stack, set(answered))
    costs = sorted(float(str(d.get("cost_usd", 0))) for d in docs)
    assert len(costs) == len(answered)
    assert all(c > 0 for c in costs)
    # every request started while the spend was under budget: at most one per replica beyond it
    assert sum(costs[: -len(stack.gateway_urls)]) < budget <= sum(costs) + 1e-12


async def test_behind_haproxy_a_killed_gateway_replica_costs_no_request(cluster: Cluster) -> None:
    """`just cluster`'s balancer (when Debian's haproxy is installed): with one gateway killed,
    every request through it is still answered (a refused connection is redispatched, the health
    check takes the dead replica out), and the replica is back in rotation once restarted."""
    stack = cluster.stack
    if not stack.use_haproxy:
        pytest.skip("haproxy is not installed (apt-get install haproxy): `just cluster` runs without a balancer")
    body = {"model": "@openai/gpt-4o-mini", "messages": [{"role": "user", "content": "balanced"}]}
    headers = {"authorization": f"Bearer {cluster.api_key}"}
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, headers=headers) as client:

        async def burst(n: int) -> list[int]:
            responses = await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(n)))
            return [r.status_code for r in responses]

        assert await burst(20) == [200] * 20
        stack.children["gateway-2"].kill()
        try:
            assert await burst(40) == [200] * 40
        finally:
            await _restart_replica(stack, "gateway-2")
        assert await burst(20) == [200] * 20


def test_no_secret_of_the_cluster_appears_in_any_log(cluster: Cluster) -> None:
    stack = cluster.stack
    secrets = [PROVIDER_KEY, stack.route_password, cluster.api_key, *stack.secrets.values()]
    logs = {p.name: p.read_text(errors="replace") for p in Path(stack.logs).glob("*.log")}
    assert len(logs) >= 11
    leaks = {name for name, text in logs.items() for s in secrets if len(s) >= 16 and s in text}
    assert leaks == set()


async def test_the_cluster_replicates_the_activity_stream_and_every_bucket_three_times(cluster: Cluster) -> None:
    stack = cluster.stack
    nc = await _operator(stack)
    try:
        js = nc.jetstream()
        streams = [subjects.ACTIVITY_STREAM, *(f"KV_{b.name}" for b in BUCKETS)]
        replicas = {name: (await js.stream_info(name)).config.num_replicas for name in streams}
    finally:
        await nc.close()
    assert replicas == dict.fromkeys(streams, 3)


@pytest.mark.parametrize("tls", ["none", "another-ca"])
async def test_the_cluster_refuses_clients_that_do_not_verify_its_certificate_over_tls(
    cluster: Cluster, tls: str, tmp_path: Path
) -> None:
    """A service's real credentials are not enough: without TLS, or trusting another CA, the
    connection is refused before they are sent."""
    stack = cluster.stack
    port = stack.nats_ports[0]
    options: dict[str, object] = {"user": "gateway", "password": stack.password("gateway")}
    if tls == "another-ca":
        options["tls"] = ssl.create_default_context(cafile=str(devca.make(tmp_path).ca))
    with pytest.raises((nats.errors.Error, OSError, ssl.SSLError)):
        await nats.connect(
            f"nats://127.0.0.1:{port}", allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0, **options
        )
