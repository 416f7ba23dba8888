"""Activity's FastStream subscribers on FastStream's in-memory broker (`TestNatsBroker`): queries
reach the query use case typed and come back as `QueryResult`; a refusal, invalid input and a crash
each get a `Failed` reply (the real-NATS end-to-end tests cover the running service)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from activity.handlers import register
from activity.queries import ActivityQueries
from shared import fastbus, subjects
from shared.errors import KeyrelayError
from shared.messages import activity as a
from shared.messages.base import Failed, Ping, Pong
from shared.settings import CommonSettings


class CannedQueries(ActivityQueries):
    """The query use case with its answers canned: what reached it, typed, is kept."""

    def __init__(self) -> None:
        self.seen: list[a.ActivityQuery] = []

    async def run(self, query: a.ActivityQuery) -> a.QueryResult:
        self.seen.append(query)
        if isinstance(query, a.GetRequestRecord) and query.request_id == "missing":
            raise KeyrelayError("not_found", "no such request")
        if isinstance(query, a.GetRequestRecord) and query.request_id == "crash":
            raise ZeroDivisionError
        return a.QueryResult(body=msgspec.Raw(b'{"data":[]}'))


@pytest.fixture
async def bus() -> AsyncIterator[tuple[NatsBroker, CannedQueries]]:
    queries = CannedQueries()
    broker = fastbus.broker(CommonSettings(), "activity")
    register(broker, queries)
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker, queries


async def ask(broker: NatsBroker, subject: str, body: Any, reply_type: Any) -> Any:
    reply = await broker.request(body, subject)
    return msgspec.json.decode(reply.body, type=reply_type | Failed)


async def test_a_query_reaches_the_use_case_typed_and_its_raw_body_comes_back_untouched(
    bus: tuple[NatsBroker, CannedQueries],
) -> None:
    broker, queries = bus
    query = a.ListRequestRecords(scope=a.Scope(org_id="org_1", project_ids=["prj_1"]), model="gpt-4o-mini")
    reply = await ask(broker, subjects.ACTIVITY_QUERY, a.ActivityQueryRequest(query=query), a.QueryResult)
    assert isinstance(reply, a.QueryResult)
    assert (reply.status, bytes(reply.body)) == (200, b'{"data":[]}')
    assert queries.seen == [query]


async def test_activity_answers_ping(bus: tuple[NatsBroker, CannedQueries]) -> None:
    broker, _ = bus
    assert await ask(broker, subjects.ACTIVITY_PING, Ping(), Pong) == Pong(service="activity")


@pytest.mark.parametrize(
    ("request_id", "expected"),
    [
        ("missing", Failed(code="not_found", message="no such request")),
        ("crash", Failed(code="internal_error", message="internal error")),
    ],
)
async def test_a_refusal_or_a_crash_is_answered_with_a_failed_reply(
    bus: tuple[NatsBroker, CannedQueries], request_id: str, expected: Failed
) -> None:
    broker, _ = bus
    query = a.GetRequestRecord(scope=a.Scope(org_id="org_1"), request_id=request_id)
    reply = await ask(broker, subjects.ACTIVITY_QUERY, a.ActivityQueryRequest(query=query), a.QueryResult)
    assert reply == expected


async def test_an_unknown_query_kind_is_answered_invalid_request_and_never_reaches_the_use_case(
    bus: tuple[NatsBroker, CannedQueries],
) -> None:
    broker, queries = bus
    body = {"query": {"type": "requests.drop_all", "scope": {"org_id": "org_1"}}}
    reply = await ask(broker, subjects.ACTIVITY_QUERY, body, a.QueryResult)
    assert isinstance(reply, Failed)
    assert reply.code == "invalid_request"
    assert "`$.query.type`" in reply.message
    assert "drop_all" not in reply.message
    assert queries.seen == []
