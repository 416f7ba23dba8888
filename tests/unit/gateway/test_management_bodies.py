"""The management API's request bodies are their catalog commands' field sets, refusing unknown fields."""

from __future__ import annotations

from typing import Any, get_args

import msgspec
import pytest

from gateway.api import management as api
from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.ui.access import PERIODS
from shared.messages import catalog as m

# (HTTP body, the command made from it, the fields only the edge adds)
PAIRS: list[tuple[type[msgspec.Struct], type[msgspec.Struct], set[str]]] = [
    (api.ProjectBody, m.CreateProject, set()),
    (api.ProjectPatch, m.UpdateProject, {"project_id"}),
    (api.MemberBody, m.CreateMember, {"token_hash"}),
    (api.MemberPatch, m.UpdateMember, {"member_id"}),
    (api.ApiKeyBody, m.CreateApiKey, {"key_hash", "key_prefix"}),
    (api.ApiKeyPatch, m.UpdateApiKey, {"api_key_id"}),
    (api.CustomHostBody, m.CustomHost, set()),
    (api.ModelsBody, m.ModelSelection, set()),
    (api.VirtualTargetBody, m.VirtualTarget, set()),
]


@pytest.mark.parametrize(("body", "command", "edge"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_a_management_body_has_its_commands_fields_except_what_only_the_edge_knows(
    body: type[msgspec.Struct], command: type[msgspec.Struct], edge: set[str]
) -> None:
    assert set(body.__struct_fields__) | edge == set(command.__struct_fields__)
    assert not set(body.__struct_fields__) & edge


@pytest.mark.parametrize(("body", "command", "edge"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_a_management_body_refuses_an_unknown_field_its_command_would_ignore(
    body: type[msgspec.Struct], command: type[msgspec.Struct], edge: set[str]
) -> None:
    required = {
        name: "x"
        for name, field in zip(body.__struct_fields__, msgspec.structs.fields(body), strict=True)
        if field.required
    }
    with pytest.raises(msgspec.ValidationError, match="unknown field `apikey`"):
        msgspec.convert({**required, "apikey": "sk-typo"}, body)
    assert msgspec.convert({**required, **dict.fromkeys(edge, "x"), "apikey": "sk-typo"}, command) is not None


def _enums(schema: Any, name: str) -> list[list[str]]:
    """Every `enum` given for a property called `name` anywhere in the OpenAPI document."""
    found: list[list[str]] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == name and isinstance(value, dict):
                found += [o["enum"] for o in value.get("oneOf", [value]) if "enum" in o]
            found += _enums(value, name)
    elif isinstance(schema, list):
        for item in schema:
            found += _enums(item, name)
    return found


def test_the_budget_period_is_one_literal_for_the_api_the_console_and_the_bus() -> None:
    periods = list(get_args(m.BudgetPeriod))
    assert list(PERIODS) == periods
    schema = create_app(GatewaySettings()).openapi_schema.to_schema()
    enums = _enums(schema, "budget_period")
    assert enums
    assert all({v for v in enum if v is not None} == set(periods) for enum in enums)
