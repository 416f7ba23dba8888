"""The console's project list and integration choices are remembered per session: read once with
the session's own management command, dropped by any change to the org (catalog's change events, or
a change made through this gateway) and by sign-out, and never remembered when catalog refuses."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from gateway.catalog_client import CatalogClient
from gateway.settings import GatewaySettings
from shared.errors import KeyrelayError
from shared.messages import catalog as m

WHO = m.MemberPrincipal(member_id="mem_1", org_id="org_a", email="o@example.com", org_role="owner")
PROJECTS = [{"id": "prj_1", "name": "default", "rpm": 10}]


class Catalog:
    """Catalog over the bus: answers manage commands, counting the list commands it was sent."""

    def __init__(self) -> None:
        self.lists: list[tuple[str, str]] = []
        self.refuse = False

    async def request(self, _: str, msg: Any, *__: object, **___: object) -> m.ManageReply:
        command = msg.command
        if self.refuse:
            raise KeyrelayError("unauthorized", "invalid or missing member token")
        if isinstance(command, m.ListProjects):
            self.lists.append((msg.token_hash, "projects"))
            return m.ManageReply(body=msgspec.Raw(msgspec.json.encode({"data": PROJECTS})))
        if isinstance(command, m.ListProviders):
            self.lists.append((msg.token_hash, "providers"))
            return m.ManageReply(body=msgspec.Raw(msgspec.json.encode({"data": [{"id": "openai", "name": "OpenAI"}]})))
        if isinstance(command, m.ListIntegrations):
            self.lists.append((msg.token_hash, "integrations"))
            data = [{"slug": "alpha", "credentials": {"masked": "sk-...abc"}}]
            return m.ManageReply(body=msgspec.Raw(msgspec.json.encode({"data": data})))
        return m.ManageReply(outcome="done")


def client() -> tuple[CatalogClient, Catalog]:
    bus = Catalog()
    return CatalogClient(bus, GatewaySettings()), bus  # type: ignore[arg-type]


async def projects(catalog: CatalogClient, token: str = "krs_one") -> list[dict[str, Any]]:
    return await catalog.listed(token, WHO, m.ListProjects(), ("id", "name"), "req_1")


async def test_a_sessions_project_list_is_read_once_with_only_the_fields_the_page_uses() -> None:
    catalog, bus = client()
    assert await projects(catalog) == [{"id": "prj_1", "name": "default"}]
    assert await projects(catalog) == [{"id": "prj_1", "name": "default"}]
    assert len(bus.lists) == 1
    await projects(catalog, "krs_two")  # another session reads its own
    assert len(bus.lists) == 2
    slugs = await catalog.listed("krs_one", WHO, m.ListIntegrations(), ("slug",), "req_1")
    assert slugs == [{"slug": "alpha"}]  # nothing of the credential is kept


@pytest.mark.parametrize("kind", ["project", "member", "integration", "api_key", "config"])
async def test_any_change_to_the_org_drops_its_sessions_lists(kind: str) -> None:
    catalog, bus = client()
    await projects(catalog)
    catalog.on_changed(m.CatalogChanged(org_id="org_b", kind=kind, ids=["x"]))
    await projects(catalog)
    assert len(bus.lists) == 1  # another org's change keeps them
    catalog.on_changed(m.CatalogChanged(org_id="org_a", kind=kind, ids=["x"]))
    await projects(catalog)
    assert len(bus.lists) == 2


async def test_a_change_made_through_this_gateway_drops_the_lists_before_its_event_arrives() -> None:
    catalog, bus = client()
    await projects(catalog)
    await catalog.manage("krs_one", m.ListApiKeys(), "req_2")  # a read changes nothing
    await projects(catalog)
    assert len(bus.lists) == 1
    await catalog.manage("krs_one", m.DeleteProject(project_id="prj_1"), "req_3")
    await projects(catalog)
    assert len(bus.lists) == 2


async def test_sign_out_drops_what_the_session_had_and_a_refusal_is_never_remembered() -> None:
    catalog, bus = client()
    await projects(catalog)
    catalog.forget_session("krs_one")
    bus.refuse = True  # the session is gone in catalog
    with pytest.raises(KeyrelayError):
        await projects(catalog)
    bus.refuse = False
    await projects(catalog)
    assert len(bus.lists) == 2


async def test_after_a_bus_reconnect_the_lists_are_read_again() -> None:
    catalog, bus = client()
    await projects(catalog)
    catalog.revalidate()
    await projects(catalog)
    assert len(bus.lists) == 2


async def test_the_provider_catalog_is_read_once_for_every_session_and_again_after_a_reconnect() -> None:
    catalog, bus = client()
    assert await catalog.providers("krs_one", "req_1") == [{"id": "openai", "name": "OpenAI"}]
    assert await catalog.providers("krs_two", "req_2") == [{"id": "openai", "name": "OpenAI"}]
    assert bus.lists == [(bus.lists[0][0], "providers")]  # catalog's own data: the same for every member
    catalog.revalidate()
    await catalog.providers("krs_two", "req_3")
    assert len(bus.lists) == 2


async def test_a_refused_provider_read_is_never_remembered() -> None:
    catalog, bus = client()
    bus.refuse = True
    with pytest.raises(KeyrelayError):
        await catalog.providers("krs_gone", "req_1")
    bus.refuse = False
    assert await catalog.providers("krs_one", "req_2") == [{"id": "openai", "name": "OpenAI"}]
    assert len(bus.lists) == 1
