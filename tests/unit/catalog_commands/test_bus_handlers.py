"""Catalog's FastStream subscribers on FastStream's in-memory broker (`TestNatsBroker`): the same app
wiring as the service (`shared.fastbus.broker` + `catalog.handlers.register`), typed replies, and a
`Failed` reply for a refusal, for invalid input and for a crash (the real-NATS end-to-end tests
cover the same subjects against the running service)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from catalog.handlers import register
from catalog.service import Catalog
from shared import fastbus, subjects
from shared.logging import configure_logging
from shared.messages import catalog as m
from shared.messages.base import Failed, Ping, Pong
from shared.settings import CommonSettings
from tests.unit.catalog_commands.conftest import World, token_hash

CANARY = "sk-canary-bus-handler-0123456789abcdef"
TRACEPARENT = "00-" + "4bf92f3577b34da6a3ce929d0e0e4736" + "-00f067aa0ba902b7-01"


@pytest.fixture
async def bus(world: World) -> AsyncIterator[tuple[NatsBroker, Catalog]]:
    catalog = Catalog(world.ctx)
    broker = fastbus.broker(CommonSettings(), "catalog")
    register(broker, catalog)
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker, catalog


async def ask(broker: NatsBroker, subject: str, body: Any, reply_type: Any, **headers: str) -> Any:
    reply = await broker.request(body, subject, headers=headers or None)
    return msgspec.json.decode(reply.body, type=reply_type | Failed)


async def test_catalog_answers_bootstrap_authentication_and_ping_with_typed_replies(
    bus: tuple[NatsBroker, Catalog],
) -> None:
    broker, _ = bus
    owner = token_hash()
    boot = m.BootstrapRequest(org_name="Globex", owner_email="o@globex.test", owner_token_hash=owner)
    created = await ask(broker, subjects.CATALOG_BOOTSTRAP, boot, m.BootstrapReply)
    member = await ask(broker, subjects.CATALOG_AUTH_MEMBER, m.AuthenticateMember(token_hash=owner), m.MemberPrincipal)
    pong = await ask(broker, subjects.CATALOG_PING, Ping(), Pong)
    assert isinstance(created, m.BootstrapReply)
    assert isinstance(member, m.MemberPrincipal)
    assert (member.org_id, member.org_role) == (created.org_id, "owner")
    assert pong == Pong(service="catalog")


async def test_a_refused_request_is_answered_with_the_services_own_error_code(
    bus: tuple[NatsBroker, Catalog],
) -> None:
    broker, _ = bus
    reply = await ask(broker, subjects.CATALOG_AUTH_API_KEY, m.AuthenticateApiKey(key_hash="0" * 64), m.ApiKeyPrincipal)
    assert reply == Failed(code="invalid_api_key", message="invalid API key")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"token_hash": "x", "command": {"type": CANARY}}, "$.command.type"),
        ({"token_hash": 7, "command": {"type": "projects.list"}, "note": CANARY}, "$.token_hash"),
        (b"not json " + CANARY.encode(), "$"),
    ],
)
async def test_invalid_input_is_answered_invalid_request_naming_the_field_never_quoting_the_value(
    bus: tuple[NatsBroker, Catalog], body: Any, where: str
) -> None:
    broker, _ = bus
    reply = await ask(broker, subjects.CATALOG_MANAGE, body, m.ManageReply)
    assert isinstance(reply, Failed)
    assert reply.code == "invalid_request"
    assert reply.message.startswith(f"malformed {subjects.CATALOG_MANAGE} request: ")
    assert f"`{where}`" in reply.message
    assert "canary" not in reply.message


async def test_a_crash_is_answered_internal_error_and_logged_with_the_callers_trace_not_the_request(
    bus: tuple[NatsBroker, Catalog], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, catalog = bus
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", cache=False, stream=stream)

    async def crash(org_id: str, project_id: str) -> list[Any]:
        raise RuntimeError("snapshot store exploded")

    monkeypatch.setattr(catalog.ctx.repo, "routable_integrations", crash)
    request = m.SnapshotRequest(org_id="org_x", project_id=CANARY)
    reply = await ask(broker, subjects.CATALOG_SNAPSHOT, request, m.RoutingSnapshot, traceparent=TRACEPARENT)
    assert reply == Failed(code="internal_error", message="internal error")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    crashed = [line for line in lines if line["event"] == "bus.handler_crashed"]
    assert len(crashed) == 1
    assert crashed[0]["subject"] == subjects.CATALOG_SNAPSHOT
    assert crashed[0]["error"] == "RuntimeError"
    assert crashed[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert CANARY not in stream.getvalue()


async def test_each_message_starts_with_a_clean_log_context_and_its_own_trace(
    bus: tuple[NatsBroker, Catalog], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, catalog = bus
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", cache=False, stream=stream)
    seen: list[dict[str, Any]] = []

    async def record_use(org_id: str, integration_id: str, changes: dict[str, Any], *, reactivate: bool) -> None:
        import structlog  # noqa: PLC0415 - what a handler's log line would carry

        seen.append(structlog.contextvars.get_contextvars())
        structlog.contextvars.bind_contextvars(leftover=integration_id)

    monkeypatch.setattr(catalog.ctx.repo, "record_use", record_use)
    first = m.IntegrationReport(org_id="org_x", integration_id="int_1", ok=True)
    await ask(broker, subjects.CATALOG_REPORT, first, m.Ack, traceparent=TRACEPARENT)
    await ask(broker, subjects.CATALOG_REPORT, first, m.Ack)
    assert seen[0] == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert seen[1] == {}, "the previous message's trace or bindings leaked into the next one"


def test_the_serializer_encodes_a_secret_as_redacted() -> None:
    from shared.secret import Secret  # noqa: PLC0415

    class Carrier(msgspec.Struct):
        value: Any

    encoded = fastbus.BusSerializer.encode(Carrier(value=Secret(CANARY)))
    assert encoded == b'{"value":"[redacted]"}'
