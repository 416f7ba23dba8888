"""Issue 10, item 1: a service's NATS user cannot capture other services' replies through JetStream,
and one-time secrets (owner token, member token, API key) never cross the bus or reach its store.

Every attack runs with the attacker's real access: the service's own NATS user and password.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg as NatsMsg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig

from shared import natsconf, subjects
from shared.embedded import Child, free_port, nats_child, service_child, wait_for_port
from shared.messages.activity import AuditEvent
from shared.provision import BUCKETS as PROVISIONED_BUCKETS
from shared.provision import ProvisionSettings, activity_stream, bucket_stream
from shared.stack import EmbeddedStack
from tests.conftest import bootstrap
from tests.e2e.nats_users import connect_as, subscription_errors

CAPTURE = ["_INBOX.gateway.>", "_INBOX.operator.>", "_INBOX.catalog.>"]
Attack = Callable[[JetStreamContext], Awaitable[object]]


def _widened_activity_stream() -> StreamConfig:
    config = activity_stream(ProvisionSettings())
    config.subjects = [subjects.ACTIVITY_SUBJECTS, *CAPTURE]
    return config


def _widened_rate_bucket() -> StreamConfig:
    config = bucket_stream(PROVISIONED_BUCKETS[0], ProvisionSettings())
    config.subjects = [*(config.subjects or []), "_INBOX.>"]
    return config


def _spy(durable: str | None) -> ConsumerConfig:
    return ConsumerConfig(durable_name=durable, name=durable, filter_subject=subjects.ACTIVITY_SUBJECTS)


RATE_STREAM = f"KV_{subjects.RATE_BUCKET}"
ACTIVITY, DURABLE = subjects.ACTIVITY_STREAM, subjects.ACTIVITY_DURABLE


def widen_activity_stream(js: JetStreamContext) -> Awaitable[object]:
    return js.update_stream(_widened_activity_stream())


def new_capture_stream(js: JetStreamContext) -> Awaitable[object]:
    return js.add_stream(name="CAPTURE", subjects=CAPTURE)


def new_spy_consumer(js: JetStreamContext) -> Awaitable[object]:
    return js.add_consumer(ACTIVITY, _spy("spy"))


def new_capture_bucket(js: JetStreamContext) -> Awaitable[object]:
    return js.create_key_value(bucket="capture")


# (user, JetStream API subject nats-server must refuse, the attack)
ATTACKS: list[tuple[str, str, Attack]] = [
    # widen the activity stream to store every reply sent to another service's inbox
    *((user, f"STREAM.UPDATE.{ACTIVITY}", widen_activity_stream) for user in ("activity", "gateway", "catalog")),
    ("keyvault", f"STREAM.UPDATE.{ACTIVITY}", widen_activity_stream),
    # or the gateway's own KV bucket
    ("gateway", f"STREAM.UPDATE.{RATE_STREAM}", lambda js: js.update_stream(_widened_rate_bucket())),
    # a new stream of one's own over the inboxes
    *((user, "STREAM.CREATE.CAPTURE", new_capture_stream) for user in ("activity", "gateway", "catalog", "keyvault")),
    # a consumer of one's own on the activity stream (durable or ephemeral), or a redefined one
    ("activity", f"CONSUMER.CREATE.{ACTIVITY}.spy", new_spy_consumer),
    ("catalog", f"CONSUMER.CREATE.{ACTIVITY}.spy", new_spy_consumer),
    ("activity", f"CONSUMER.CREATE.{ACTIVITY}.{DURABLE}", lambda js: js.add_consumer(ACTIVITY, _spy(DURABLE))),
    ("gateway", f"CONSUMER.CREATE.{ACTIVITY}", lambda js: js.add_consumer(ACTIVITY, _spy(None))),
    # a KV bucket of one's own (its stream may hold any subject), or removing the shared ones
    ("gateway", "STREAM.CREATE.KV_capture", new_capture_bucket),
    ("activity", "STREAM.CREATE.KV_capture", new_capture_bucket),
    ("gateway", f"STREAM.DELETE.{RATE_STREAM}", lambda js: js.delete_stream(RATE_STREAM)),
    # removing or emptying the activity stream and its consumer
    ("activity", f"STREAM.DELETE.{ACTIVITY}", lambda js: js.delete_stream(ACTIVITY)),
    ("activity", f"STREAM.PURGE.{ACTIVITY}", lambda js: js.purge_stream(ACTIVITY)),
    ("activity", f"CONSUMER.DELETE.{ACTIVITY}.{DURABLE}", lambda js: js.delete_consumer(ACTIVITY, DURABLE)),
    # reading the stream's messages directly instead of through the one consumer
    ("gateway", f"STREAM.MSG.GET.{ACTIVITY}", lambda js: js.get_msg(ACTIVITY, seq=1)),
]
# (user, another service's reply inbox or the whole inbox space)
FOREIGN_INBOXES = [
    ("activity", "_INBOX.gateway.>"),
    ("activity", "_INBOX.operator.>"),
    ("activity", "_INBOX.>"),
    ("gateway", "_INBOX.operator.>"),
    ("gateway", "_INBOX.catalog.>"),
    ("catalog", "_INBOX.operator.>"),
    ("keyvault", "_INBOX.gateway.>"),
    ("activity", "$JS.API.>"),
]


async def _operator(stack: EmbeddedStack) -> NatsClient:
    return await nats.connect(stack.nats_url, user="operator", password=stack.password("operator"))


async def _jetstream_layout(stack: EmbeddedStack) -> dict[str, Any]:
    """Every stream with its subjects and consumers, as the operator sees them."""
    nc = await _operator(stack)
    try:
        js = nc.jetstream()
        layout: dict[str, Any] = {}
        for info in await js.streams_info():
            name = info.config.name or ""
            consumers = sorted(c.name or "" for c in await js.consumers_info(name))
            layout[name] = {"subjects": sorted(info.config.subjects or []), "consumers": consumers}
        return layout
    finally:
        await nc.close()


@pytest.mark.parametrize(("user", "api", "attack"), ATTACKS, ids=[f"{u}-{a}" for u, a, _ in ATTACKS])
async def test_a_service_cannot_change_jetstream_to_capture_replies(
    stack: EmbeddedStack, user: str, api: str, attack: Attack
) -> None:
    """nats-server refuses the JetStream API call itself (a publish permission violation): nothing
    answers it, and the streams, their subjects and consumers are exactly as provisioned."""
    before = await _jetstream_layout(stack)
    errors: list[str] = []
    nc = await connect_as(stack, user, errors)
    try:
        with pytest.raises((NatsTimeoutError, NoRespondersError, TimeoutError)):
            await attack(nc.jetstream(timeout=0.5))
        await asyncio.sleep(0.1)
    finally:
        await nc.close()
    refused = f'permissions violation for publish to "$js.api.{api.lower()}'
    assert any(refused in e for e in errors), errors
    assert await _jetstream_layout(stack) == before


@pytest.mark.parametrize(("user", "subject"), FOREIGN_INBOXES)
async def test_a_service_cannot_subscribe_to_another_services_replies(
    stack: EmbeddedStack, user: str, subject: str
) -> None:
    errors = await subscription_errors(stack, user, subject)
    assert any("permissions violation for subscription" in e and subject.lower() in e for e in errors), errors


async def test_no_stream_holds_any_inbox_so_no_reply_or_publish_ack_is_ever_stored(stack: EmbeddedStack) -> None:
    """Exactly the provisioned streams exist, none over `_INBOX.` (or `>`), and the activity stream
    has exactly one consumer, activity's own."""
    layout = await _jetstream_layout(stack)
    expected = {subjects.ACTIVITY_STREAM, *(f"KV_{b.name}" for b in PROVISIONED_BUCKETS)}
    assert set(layout) == expected
    for stream in layout.values():
        for subject in stream["subjects"]:
            assert not subject.startswith(("_INBOX", ">", "*")), stream
    assert layout[subjects.ACTIVITY_STREAM] == {
        "subjects": [subjects.ACTIVITY_SUBJECTS],
        "consumers": [subjects.ACTIVITY_DURABLE],
    }


async def test_activity_still_fetches_and_acknowledges_with_only_its_grants(stack: EmbeddedStack) -> None:
    """The narrow grants are enough: an event published now is fetched, stored and acknowledged
    (nothing left pending or waiting for redelivery on the consumer)."""
    nc = await _operator(stack)
    try:
        js = nc.jetstream()
        event = AuditEvent(
            event_id=f"aud_grants_{secrets.token_hex(8)}",
            ts=datetime.now(UTC),
            org_id="org_grants",
            actor_id="operator",
            action="grants.check",
            target_type="org",
            target_id="org_grants",
        )
        ack = await js.publish(
            subjects.ACTIVITY_AUDIT_RECORDED, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
        )
        deadline = time.monotonic() + 15
        while True:
            info = await js.consumer_info(ACTIVITY, DURABLE)
            if info.delivered.stream_seq >= ack.seq and not info.num_ack_pending and not info.num_pending:
                break
            assert time.monotonic() < deadline, info
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


def test_no_service_is_granted_any_jetstream_call_that_defines_streams_consumers_or_buckets() -> None:
    for user, perm in natsconf.permissions().items():
        if user == "operator":
            continue
        for subject in [*perm["publish"], *perm["subscribe"]]:  # type: ignore[misc]
            assert not subject.startswith("$JS.API.") or subject.split(".")[3] in {"INFO", "MSG", "GET"}, subject
            for verb in (".CREATE.", ".UPDATE.", ".DELETE.", ".PURGE."):
                assert verb not in subject, (user, subject)
            assert subject not in {">", "$JS.>", "$JS.API.>", "_INBOX.>"}, (user, subject)


# --- one-time secrets never cross the bus ---------------------------------------------------------


def _forms(secret: str) -> set[str]:
    return {
        secret,
        base64.b64encode(secret.encode()).decode(),
        secret.encode().hex(),
        msgspec.json.encode(secret).decode(),
    }


def _leaks(secret: str, text: str) -> list[str]:
    """The secret in any usual encoding, or any 12 consecutive characters of it."""
    found = [f for f in _forms(secret) if f in text]
    found += [secret[i : i + 12] for i in range(len(secret) - 11) if secret[i : i + 12] in text]
    return found


def _jetstream_files(stack: EmbeddedStack) -> str:
    store = Path(stack.data_dir) / "jetstream"
    return b"\n".join(p.read_bytes() for p in store.rglob("*") if p.is_file()).decode("latin-1")


async def test_owner_tokens_member_tokens_and_api_keys_never_cross_the_bus(stack: EmbeddedStack) -> None:
    """The operator taps every subject while an org is bootstrapped, a member invited and an API key
    created: none of the three secrets is in any message (subject, payload or headers) or in the
    JetStream store, yet each of them works."""
    seen: list[bytes] = []
    nc = await _operator(stack)

    async def collect(msg: NatsMsg) -> None:
        seen.append(b" ".join([msg.subject.encode(), msg.reply.encode(), msg.data, repr(msg.headers).encode()]))

    await nc.subscribe(">", cb=collect)
    await nc.flush()
    org = await asyncio.to_thread(bootstrap, stack)
    owner_token = str(org.owner.headers["authorization"]).removeprefix("Bearer ")
    async with httpx.AsyncClient(base_url=f"{stack.gateway_url}/api/v1", headers=dict(org.owner.headers)) as owner:
        member = await owner.post(
            "/members",
            json={"email": f"dev-{secrets.token_hex(3)}@example.com", "projects": {org.project_id: "developer"}},
        )
        assert member.status_code == 201, member.text
        member_token = member.json()["token"]
        created = await owner.post("/api-keys", json={"project_id": org.project_id, "name": "tapped"})
        assert created.status_code == 201, created.text
        api_key = created.json()["key"]
        assert created.json()["prefix"] == api_key[:7]
        as_member = await owner.get("/projects", headers={"authorization": f"Bearer {member_token}"})
        assert as_member.status_code == 200, as_member.text
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        models = await client.get("/v1/models", headers={"authorization": f"Bearer {api_key}"})
        assert models.status_code == 200, models.text
    await asyncio.sleep(1.0)  # the audit events of all three reach the activity stream
    await nc.close()
    bus = b"\n".join(seen).decode("latin-1")
    assert subjects.CATALOG_BOOTSTRAP in bus, "the tap saw nothing"
    assert "members.create" in bus
    assert "api_keys.create" in bus
    store = _jetstream_files(stack)
    for secret in (owner_token, member_token, api_key):
        assert _leaks(secret, bus) == []
        assert _leaks(secret, store) == []


# --- services bind to what the operator provisioned, nothing more ---------------------------------


@pytest.fixture
def bare_nats(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh nats-server with Keyrelay's users and permissions and an empty JetStream."""
    port = free_port()
    passwords = natsconf.generate_passwords()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        natsconf.render_config(host="127.0.0.1", port=port, store_dir=str(tmp_path / "js"), passwords=passwords)
    )
    child = nats_child(config_path=conf, log_path=tmp_path / "nats.log").start()
    try:
        wait_for_port(port, proc=child.proc)
        yield f"nats://127.0.0.1:{port}", passwords
    finally:
        child.stop()


def _provision_cli(url: str, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KEYRELAY_NATS_URL": url,
        "KEYRELAY_NATS_USER": "operator",
        "KEYRELAY_NATS_PASSWORD": passwords["operator"],
        "KEYRELAY_ENV_FILE": os.devnull,
    }
    argv = [sys.executable, "-m", "shared.cli", "provision"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_activity_refuses_to_start_without_provisioning_and_keyrelay_provision_is_idempotent(
    stack: EmbeddedStack, bare_nats: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, passwords = bare_nats
    env = {
        **stack.service_env("activity"),
        "KEYRELAY_NATS_URL": url,
        "KEYRELAY_NATS_PASSWORD": passwords["activity"],
        "KEYRELAY_METRICS_PORT": str(free_port()),
    }
    log = tmp_path / "activity.log"
    first: Child = service_child("activity", env=env, log_path=log).start()
    assert first.proc is not None
    assert first.proc.wait(timeout=30) != 0, "activity started without its stream and consumer"
    first.stop()
    assert "keyrelay provision" in log.read_text()

    created = _provision_cli(url, passwords)
    assert created.returncode == 0, created.stderr
    assert created.stdout.count(": created") == 2 + len(PROVISIONED_BUCKETS), created.stdout
    again = _provision_cli(url, passwords)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(": up to date") == 2 + len(PROVISIONED_BUCKETS), again.stdout

    second: Child = service_child("activity", env=env, log_path=log).start()
    try:
        deadline = time.monotonic() + 20
        while "service.started" not in log.read_text() and time.monotonic() < deadline:
            assert second.running, log.read_text()[-2000:]
            time.sleep(0.1)
        assert "service.started" in log.read_text()
    finally:
        second.stop()
