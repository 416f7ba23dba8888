"""Each service's NATS user may use only its own subjects: nats-server itself refuses the rest."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from shared import subjects
from shared.stack import EmbeddedStack
from tests.e2e.nats_users import connect_as, subscription_errors

# (user, subject it must not publish to)
FORBIDDEN_PUBLISH = [
    ("gateway", subjects.KEYVAULT_PUT),  # the edge never reaches keyvault's admin subjects
    ("gateway", subjects.KEYVAULT_ROTATE),
    ("gateway", subjects.ACTIVITY_AUDIT_RECORDED),
    ("gateway", subjects.CATALOG_BOOTSTRAP),
    ("catalog", subjects.KEYVAULT_REVEAL),  # nobody but the gateway may request decryption
    ("activity", subjects.KEYVAULT_REVEAL),
    ("keyvault", subjects.KEYVAULT_REVEAL),
    ("activity", subjects.CATALOG_MANAGE),
    ("keyvault", subjects.CATALOG_MANAGE),
    ("catalog", subjects.KEYVAULT_ROTATE),
    # the Responses API context (user content) is the gateway's alone: no other service reads or writes it
    (
        "catalog",
        f"$JS.API.DIRECT.GET.KV_{subjects.RESPONSES_BUCKET}.$KV.{subjects.RESPONSES_BUCKET}.org_x.prj_x.resp_x",
    ),
    (
        "activity",
        f"$JS.API.DIRECT.GET.KV_{subjects.RESPONSES_BUCKET}.$KV.{subjects.RESPONSES_BUCKET}.org_x.prj_x.resp_x",
    ),
    ("keyvault", f"$KV.{subjects.RESPONSES_BUCKET}.org_x.prj_x.resp_x"),
    # media job handles (provider job ids and poll URLs) are the gateway's alone too
    ("catalog", f"$JS.API.DIRECT.GET.KV_{subjects.JOBS_BUCKET}.$KV.{subjects.JOBS_BUCKET}.org_x.prj_x.job_x"),
    ("activity", f"$KV.{subjects.JOBS_BUCKET}.org_x.prj_x.job_x"),
    ("keyvault", f"$JS.API.DIRECT.GET.KV_{subjects.JOBS_BUCKET}.$KV.{subjects.JOBS_BUCKET}.org_x.prj_x.job_x"),
]
# (user, subject it must not subscribe to)
FORBIDDEN_SUBSCRIBE = [
    ("gateway", "keyvault.v1.>"),
    ("catalog", subjects.KEYVAULT_REVEAL),
    ("activity", "catalog.v1.>"),
    ("gateway", "_INBOX.keyvault.>"),  # another service's private reply inbox
    ("catalog", "_INBOX.gateway.>"),
    ("keyvault", ">"),
]


@pytest.mark.parametrize(("user", "subject"), FORBIDDEN_PUBLISH)
async def test_a_service_cannot_publish_outside_its_grants(stack: EmbeddedStack, user: str, subject: str) -> None:
    """nats-server answers a permissions violation and no responder ever sees the message."""
    errors: list[str] = []
    nc = await connect_as(stack, user, errors)
    try:
        with pytest.raises((NoRespondersError, NatsTimeoutError, TimeoutError)):
            await nc.request(subject, b"{}", timeout=0.5)
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    assert any("permissions violation" in e and "publish" in e for e in errors), errors


@pytest.mark.parametrize(("user", "subject"), FORBIDDEN_SUBSCRIBE)
async def test_a_service_cannot_subscribe_outside_its_grants(stack: EmbeddedStack, user: str, subject: str) -> None:
    """Subscribing to another service's subjects or inbox is refused by nats-server."""
    errors = await subscription_errors(stack, user, subject)
    assert any("permissions violation" in e and "subscription" in e for e in errors), errors


async def test_each_service_can_use_what_it_needs(stack: EmbeddedStack) -> None:
    """The grants are not simply empty: the gateway can ping catalog, keyvault and activity."""
    errors: list[str] = []
    nc = await connect_as(stack, "gateway", errors)
    try:
        for subject in (subjects.CATALOG_PING, subjects.KEYVAULT_PING, subjects.ACTIVITY_PING):
            reply = await nc.request(subject, b"{}", timeout=2.0)
            assert b"pong" in reply.data
    finally:
        await nc.close()
    assert errors == []
