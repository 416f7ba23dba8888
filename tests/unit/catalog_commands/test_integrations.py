"""Integrations: owners create them two-phase with keyvault, rebind, rotate, scope and delete them."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import UPSTREAM, World


async def test_an_integration_is_created_active_with_its_sealed_key_in_keyvault(world: World) -> None:
    body = await world.integration("Main-OpenAI", models=m.ModelSelection(enabled=["gpt-4.1"]))
    assert (body["slug"], body["status"], body["provider"]) == ("main-openai", "active", "openai")
    assert body["credential"]["masked"] == "sk-...1234"
    assert body["models"]["enabled"] == ["gpt-4.1"]
    stored = world.vault.stored[body["id"]]
    assert (stored["sealed"], stored["base_url"], stored["project_scope"]) == (b"sealed-Main-OpenAI", UPSTREAM, "all")
    assert world.events.actions == ["integration.create"]


async def test_when_keyvault_refuses_the_key_no_integration_is_left_behind(world: World) -> None:
    world.vault.refuse_puts = True
    with pytest.raises(KeyrelayError) as caught:
        await world.integration("main")
    assert caught.value.code == "invalid_credentials"
    assert await world.store.integrations.list(world.owner.org_id) == []
    world.vault.refuse_puts = False
    assert (await world.integration("main"))["status"] == "active"  # the slug is free again


async def test_a_taken_slug_an_unknown_provider_and_an_unknown_project_are_refused(world: World) -> None:
    await world.integration("main")
    with pytest.raises(KeyrelayError) as taken:
        await world.integration("MAIN")
    with pytest.raises(KeyrelayError) as provider:
        await world.integration("other", provider="nope")
    with pytest.raises(KeyrelayError) as scope:
        await world.integration("scoped", project_scope=["prj_nope"])
    with pytest.raises(KeyrelayError) as model:
        await world.integration("enabled-set", models=m.ModelSelection(enabled=["not-a-model"]))
    assert taken.value.code == "slug_taken"
    assert (provider.value.code, provider.value.param) == ("invalid_request", "provider")
    assert (scope.value.code, scope.value.param) == ("not_found", "project_id")
    assert model.value.code == "model_not_found"


async def test_a_custom_host_outside_the_address_policy_is_refused(world: World) -> None:
    with pytest.raises(KeyrelayError) as caught:
        await world.integration("private-net", custom_host=m.CustomHost(base_url="http://10.0.0.1/v1"))
    assert caught.value.code == "upstream_not_allowed"


async def test_members_see_only_integrations_scoped_to_their_projects(world: World) -> None:
    other = await world.project("Other")
    await world.integration("everyone")
    await world.integration("theirs", project_scope=[other])
    dev = await world.member("dev@acme.test")
    assert [i["slug"] for i in (await world.ok(dev, m.ListIntegrations()))["data"]] == ["everyone"]
    with pytest.raises(KeyrelayError) as caught:
        await world.run(dev, m.GetIntegration(slug="theirs"))
    assert caught.value.code == "integration_not_found"
    assert (await world.ok(world.owner, m.GetIntegration(slug="Theirs")))["project_scope"] == [other]


async def test_a_new_scope_goes_to_keyvault_before_it_is_stored(world: World) -> None:
    created = await world.integration("main")
    body = await world.ok(world.owner, m.UpdateIntegration(slug="main", project_scope=[world.project_id], name="Main"))
    assert (body["project_scope"], body["name"]) == ([world.project_id], "Main")
    assert world.vault.stored[created["id"]]["project_scope"] == [world.project_id]
    assert world.events.audits[-1]["detail"] == {"fields": "name,project_scope"}


async def test_a_new_custom_host_rebinds_the_kept_key_in_keyvault(world: World) -> None:
    created = await world.integration("main")
    new_host = "http://127.0.0.1:8/v1"
    body = await world.ok(world.owner, m.UpdateIntegration(slug="main", custom_host=m.CustomHost(base_url=new_host)))
    assert body["custom_host"] == {"base_url": new_host, "api_format": "openai"}
    assert world.vault.stored[created["id"]]["base_url"] == new_host
    assert world.vault.stored[created["id"]]["sealed"] == b"sealed-main"  # the key itself is kept


async def test_rotating_the_credential_reactivates_an_integration_in_error(world: World) -> None:
    created = await world.integration("main")
    await world.ctx.repo.record_use(
        world.owner.org_id, created["id"], {"last_error_class": "auth", "status": "error"}, reactivate=False
    )
    credentials = m.CredentialInput(sealed=b"rotated", secret_fields=["api_key"])
    body = await world.ok(world.owner, m.PutCredentials(slug="main", credentials=credentials))
    assert (body["status"], body["last_error"]) == ("active", None)
    assert world.vault.stored[created["id"]]["sealed"] == b"rotated"
    assert world.events.actions[-1] == "credential.rotate"


async def test_a_deleted_integration_is_gone_from_catalog_and_keyvault(world: World) -> None:
    created = await world.integration("main")
    await world.done(world.owner, m.DeleteIntegration(slug="main"))
    assert created["id"] not in world.vault.stored
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.GetIntegration(slug="main"))
    assert caught.value.code == "integration_not_found"


async def test_only_owners_change_integrations(world: World) -> None:
    await world.integration("main")
    admin = await world.member("admin@acme.test", role="admin")
    for command in (
        m.UpdateIntegration(slug="main", name="x"),
        m.DeleteIntegration(slug="main"),
        m.PutCredentials(slug="main", credentials=m.CredentialInput(sealed=b"x")),
    ):
        with pytest.raises(KeyrelayError) as caught:
            await world.run(admin, command)
        assert caught.value.code == "owner_required"
