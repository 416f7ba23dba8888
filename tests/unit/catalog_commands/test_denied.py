"""Refusals made at the gateway's edge are audited only when catalog's own rule refuses too."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World


async def test_a_refusal_the_rules_confirm_is_audited_as_denied(world: World) -> None:
    dev = await world.member("dev@acme.test")
    await world.done(dev, m.RecordDenied(command="CreateIntegration"))
    assert world.events.audits[-1]["action"] == "CreateIntegration.denied"
    assert world.events.audits[-1]["outcome"] == "denied"


async def test_a_claimed_refusal_the_rules_do_not_confirm_is_not_audited(world: World) -> None:
    await world.done(world.owner, m.RecordDenied(command="CreateIntegration"))
    assert world.events.audits == []


@pytest.mark.parametrize("command", ["NoSuchCommand", "RecordDenied"])
async def test_an_unknown_command_name_is_refused(world: World, command: str) -> None:
    with pytest.raises(KeyrelayError) as caught:
        await world.run(world.owner, m.RecordDenied(command=command))
    assert (caught.value.code, caught.value.param) == ("invalid_request", "command")
