"""Models per integration: catalog models switched on and off, custom models added and removed."""

from __future__ import annotations

import pytest

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


async def test_a_custom_model_on_another_host_than_its_integrations_key_is_refused(world: World) -> None:
    await world.integration("main")
    model = m.CustomModel(slug="elsewhere", custom_host=m.CustomHost(base_url="http://127.0.0.1:7/v1"))
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.AddCustomModel(slug="main", model=model))
    assert (caught.value.code, caught.value.param) == ("upstream_not_allowed", "custom_host")


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
