"""The indexes of `requests`: every read the activity service makes of it is served by one (the
store's own query plan says so), and a store made by an older version converges to the wanted set."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from activity.queries import ActivityQueries
from activity.repository import REQUEST_INDEXES, RETIRED_REQUEST_INDEXES, ActivityRepository
from shared.messages import activity as a
from tests.integration.activity.records import NOW, REQUEST, Raw, record

Doc = dict[str, Any]
SCOPE = a.Scope(org_id="org_a")
SINCE = NOW - timedelta(hours=30)


class _Finds(CommandListener):
    """The filters of every `find` sent to `requests`."""

    def __init__(self) -> None:
        self.filters: list[Doc] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "requests":
            self.filters.append(dict(event.command.get("filter") or {}))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def _index_names(plan: Doc) -> set[str]:
    """The indexes a plan's stages scan; `COLLSCAN` if any stage scans the collection."""
    names: set[str] = set()
    stack = [plan]
    while stack:
        stage = stack.pop()
        if stage.get("stage") == "COLLSCAN":
            names.add("COLLSCAN")
        if "indexName" in stage:
            names.add(stage["indexName"])
        stack.extend(stage.get("inputStages", []))
        if "inputStage" in stage:
            stack.append(stage["inputStage"])
    return names


LISTS: list[dict[str, Any]] = [
    {},
    {"project_id": "prj_1"},
    {"integration": "alpha"},
    {"model": "gpt-4o-mini"},
    {"api_key_id": "key_1"},
    {"status": 502},
    {"status": 502, "integration": "alpha"},
    {"status": 200, "integration": "alpha"},
    {"project_id": "prj_1", "integration": "beta", "model": "gpt-4o-mini"},
]


async def test_every_read_of_the_request_records_is_served_by_an_index(activity_mongo_uri: str, db_name: str) -> None:
    finds = _Finds()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(activity_mongo_uri, tz_aware=True, event_listeners=[finds])
    try:
        repo = ActivityRepository(client, db_name)
        await repo.ensure_indexes(90)
        await repo.store(REQUEST, [record(i) for i in range(300)])
        finds.filters.clear()  # (the one full read of a new store's first start: its hours' marks)
        queries = ActivityQueries(repo)
        for filters in LISTS:  # the API's and the console's lists, each filter and some together
            await queries.run(a.ListRequestRecords(scope=SCOPE, since=SINCE, limit=20, **filters))
        await queries.run(a.SummarizeRequests(scope=SCOPE, group_by="integration", since=SINCE + timedelta(minutes=5)))
        await queries.run(a.SeriesRequests(scope=SCOPE, project_id="prj_1", since=SINCE, until=NOW))
        assert len(finds.filters) > len(LISTS)
        plans: dict[str, set[str]] = {}
        for query in finds.filters:
            explained = await client[db_name].command({"explain": {"find": "requests", "filter": query}})
            plans[repr(sorted(query))] = _index_names(explained["queryPlanner"]["winningPlan"])
        wanted = {model.document["name"] for model in REQUEST_INDEXES}
        assert all(names and names <= wanted for names in plans.values()), plans
        # the errors-only index serves the error lists, with or without an integration
        assert {"errors_org_id_1_status_1_ts_-1"} in plans.values()
    finally:
        await client.close()


async def test_a_store_made_by_an_older_version_keeps_only_the_wanted_indexes(
    repo: ActivityRepository, raw: Raw
) -> None:
    requests = raw["requests"]
    for name in [index["name"] async for index in await requests.list_indexes()]:
        if name != "_id_":
            await requests.drop_index(name)
    # what session 5 created (unnamed), and an analyst's own index
    for field in ("project_id", "integration", "model_requested", "api_key_id", "status"):
        await requests.create_index([("org_id", ASCENDING), (field, ASCENDING), ("ts", DESCENDING)])
    await requests.create_index([("org_id", ASCENDING), ("ts", DESCENDING)])
    await requests.create_index(
        [("org_id", ASCENDING), ("status", ASCENDING), ("integration", ASCENDING), ("ts", DESCENDING)]
    )
    await requests.create_index([("ts", ASCENDING)], expireAfterSeconds=90 * 86400, name="ttl_ts")
    await requests.create_index([("endpoint", ASCENDING)], name="analyst_endpoint")
    assert set(RETIRED_REQUEST_INDEXES) <= {index["name"] async for index in await requests.list_indexes()}

    await repo.ensure_indexes(90)
    await repo.ensure_indexes(90)  # again: nothing changes

    names = {index["name"] async for index in await requests.list_indexes()}
    wanted = {model.document["name"] for model in REQUEST_INDEXES}
    assert names == wanted | {"_id_", "ttl_ts", "analyst_endpoint"}
    await repo.store(REQUEST, [record(i) for i in range(40)])
    errors = await requests.count_documents({"org_id": "org_a", "status": 502})
    body = await ActivityQueries(repo).run(a.ListRequestRecords(scope=SCOPE, status=502, limit=100))
    assert bytes(body.body).count(b'"request_id"') == errors > 0
