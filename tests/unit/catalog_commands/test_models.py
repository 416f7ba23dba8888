"""Models per integration: catalog models switched on and off, custom models added and removed."""

from __future__ import annotations

import pytest

from catalog.snapshot import build_snapshot
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.usage import Pricing
from tests.unit.catalog_commands.conftest import World


async def test_the_model_list_marks_the_enabled_catalog_models(world: World) -> None:
    await world.integration("main", models=m.ModelSelection(enabled=["gpt-4.1"]))
    body = await world.ok(world.owner, m.ListModels(slug="main"))
    enabled = [x["id"] for x in body["data"] if x["enabled"]]
    assert enabled == ["gpt-4.1"]
    assert len(body["data"]) > 1
    assert body["custom"] == []


async def test_selecting_all_or_none_replaces_the_enabled_models(world: World) -> None:
    await world.integration("main")
    every = await world.ok(world.owner, m.SetModels(slug="main", selection=m.ModelSelection(all=True)))
    nothing = await world.ok(world.owner, m.SetModels(slug="main", selection=m.ModelSelection(none=True)))
    assert len(every["enabled"]) > 1
    assert nothing["enabled"] == []
    assert world.events.audits[-1]["detail"] == {"enabled": "0"}


async def test_a_model_the_provider_does_not_have_is_refused(world: World) -> None:
    await world.integration("main")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.SetModels(slug="main", selection=m.ModelSelection(enabled=["nope-1"])))
    assert (caught.value.code, caught.value.param) == ("model_not_found", "models.enabled")


async def test_a_custom_model_is_added_once_and_removed(world: World) -> None:
    await world.integration("main")
    model = m.CustomModel(slug="my-tune", base_model="gpt-4.1", pricing=Pricing(input_per_mtok=1.0))
    body = await world.created(world.owner, m.AddCustomModel(slug="main", model=model))
    assert body == {
        "slug": "my-tune",
        "base_model": "gpt-4.1",
        "custom_host": None,
        "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 0.0},
    }
    with pytest.raises(KeyrelayError) as again:
        await world.run(world.owner, m.AddCustomModel(slug="main", model=model))
    assert again.value.code == "conflict"
    assert [c["slug"] for c in (await world.ok(world.owner, m.ListModels(slug="main")))["custom"]] == ["my-tune"]
    await world.done(world.owner, m.DeleteCustomModel(slug="main", model_slug="my-tune"))
    with pytest.raises(KeyrelayError) as gone:
        await world.run(world.owner, m.DeleteCustomModel(slug="main", model_slug="my-tune"))
    assert gone.value.code == "model_not_found"


async def test_a_custom_model_on_its_own_host_binds_the_key_to_that_host_until_it_is_removed(world: World) -> None:
    """An OpenAI integration, a model on an Anthropic-format host: keyvault is told (owner assertion
    for exactly that host set) before the model routes, the snapshot sends it to its own host with
    the Anthropic adapter, and removing the model unbinds the host."""
    integration_id = (await world.integration("main", models=m.ModelSelection(enabled=["gpt-4.1"])))["id"]
    host = m.CustomHost(base_url="http://127.0.0.1:7/anthropic/", api_format="anthropic")
    model = m.CustomModel(slug="elsewhere", custom_host=host)
    body = await world.created(world.owner, m.AddCustomModel(slug="main", model=model))
    assert body["custom_host"] == {"base_url": "http://127.0.0.1:7/anthropic", "api_format": "anthropic"}
    assert world.vault.stored[integration_id]["model_base_urls"] == ["http://127.0.0.1:7/anthropic"]
    doc = await world.store.integrations.get(world.owner.org_id, slug="main")
    assert doc is not None
    snapshot = build_snapshot(world.owner.org_id, world.project_id, [doc], [], world.ctx.models)
    target = snapshot.routes["@main/elsewhere"].targets[0]
    assert (target.adapter, target.base_url, target.own_host) == ("anthropic", "http://127.0.0.1:7/anthropic", True)
    assert not snapshot.routes["@main/gpt-4.1"].targets[0].own_host
    await world.done(world.owner, m.DeleteCustomModel(slug="main", model_slug="elsewhere"))
    assert world.vault.stored[integration_id]["model_base_urls"] == []


async def test_a_custom_model_on_an_unsafe_host_is_refused_and_nothing_is_bound(world: World) -> None:
    integration_id = (await world.integration("main"))["id"]
    host = m.CustomHost(base_url="http://169.254.169.254/latest", api_format="openai")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.AddCustomModel(slug="main", model=m.CustomModel(slug="meta", custom_host=host)))
    assert caught.value.code == "upstream_not_allowed"
    assert world.vault.stored[integration_id].get("model_base_urls", []) == []


async def test_negative_prices_are_refused(world: World) -> None:
    await world.integration("main")
    model = m.CustomModel(slug="cheap", pricing=Pricing(output_per_mtok=-1.0))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.AddCustomModel(slug="main", model=model))
    assert (caught.value.code, caught.value.param) == ("invalid_request", "pricing")


async def test_a_member_outside_the_integrations_scope_cannot_list_its_models(world: World) -> None:
    other = await world.project("Other")
    await world.integration("theirs", project_scope=[other])
    dev = await world.member("dev@acme.test")
    with pytest.raises(KeyrelayError) as caught:
        await world.run(dev, m.ListModels(slug="theirs"))
    assert caught.value.code == "integration_not_found"
