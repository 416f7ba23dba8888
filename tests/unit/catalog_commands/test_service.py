"""Catalog's use cases around the commands: dispatch with typed outcomes, denial audits, reports,
API key authentication."""

from __future__ import annotations

import msgspec
import pytest

from catalog.service import Catalog
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World, create_key, token_hash


async def _owner_token(world: World) -> str:
    hashed = token_hash()
    await world.store.member_records.update(world.owner.org_id, {"_id": world.owner.member_id}, {"token_hash": hashed})
    return hashed


async def test_manage_answers_an_outcome_and_a_json_body_never_an_http_status(world: World) -> None:
    catalog, token = Catalog(world.ctx), await _owner_token(world)
    created = await catalog.manage(m.ManageRequest(token_hash=token, command=m.CreateProject(name="Search")))
    project = msgspec.json.decode(bytes(created.body))
    listed = await catalog.manage(m.ManageRequest(token_hash=token, command=m.ListProviders()))
    deleted = await catalog.manage(m.ManageRequest(token_hash=token, command=m.DeleteProject(project_id=project["id"])))
    assert (created.outcome, listed.outcome, deleted.outcome) == ("created", "ok", "done")
    assert project["name"] == "Search"
    assert any(p["id"] == "openai" for p in msgspec.json.decode(bytes(listed.body))["data"])
    assert not hasattr(created, "status")


async def test_a_command_the_rules_refuse_is_audited_as_denied_and_raised(world: World) -> None:
    catalog, dev_hash = Catalog(world.ctx), token_hash()
    await world.created(world.owner, m.CreateMember(email="dev@acme.test", token_hash=dev_hash))
    with pytest.raises(KeyrelayError) as caught:
        await catalog.manage(m.ManageRequest(token_hash=dev_hash, command=m.CreateProject(name="x")))
    assert caught.value.code == "owner_required"
    assert world.events.audits[-1]["action"] == "CreateProject.denied"


async def test_an_unknown_token_is_unauthorized(world: World) -> None:
    with pytest.raises(KeyrelayError) as caught:
        await Catalog(world.ctx).manage(m.ManageRequest(token_hash=token_hash(), command=m.ListProjects()))
    assert caught.value.code == "unauthorized"


async def test_an_auth_failure_report_marks_the_integration_in_error_and_a_success_clears_it(world: World) -> None:
    catalog, created = Catalog(world.ctx), await world.integration("main")
    org_id = world.owner.org_id
    report = m.IntegrationReport(org_id=org_id, integration_id=created["id"], ok=False, error_class="auth")
    await catalog.report(report)
    assert (await world.ok(world.owner, m.GetIntegration(slug="main")))["status"] == "error"
    await catalog.report(m.IntegrationReport(org_id=org_id, integration_id=created["id"], ok=True))
    body = await world.ok(world.owner, m.GetIntegration(slug="main"))
    assert (body["status"], body["last_error"]) == ("active", None)


async def test_an_api_key_authenticates_with_its_project_limits_until_revoked(world: World) -> None:
    catalog = Catalog(world.ctx)
    await world.ok(world.owner, m.UpdateProject(project_id=world.project_id, rpm=7))
    command = create_key(world.project_id, tpm=100)
    key = await world.created(world.owner, command)
    principal = await catalog.api_key(command.key_hash)
    assert (principal.project_id, principal.tpm, principal.project_rpm) == (world.project_id, 100, 7)
    await world.done(world.owner, m.DeleteApiKey(api_key_id=key["id"]))
    with pytest.raises(KeyrelayError) as caught:
        await catalog.api_key(command.key_hash)
    assert caught.value.code == "invalid_api_key"
