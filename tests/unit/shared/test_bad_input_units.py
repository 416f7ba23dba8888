"""The pieces behind "bad input is a 400": the body decoder, the echo helper, the rules table."""

from __future__ import annotations

import pytest

from gateway.api.body import MAX_DEPTH, decode_json
from gateway.api.headers import MAX_HEADER_VALUE_BYTES, check_headers
from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.authz import RULES, precheck
from shared.errors import KeyrelayError, echo
from shared.messages import catalog as m


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "invalid_json"),
        (b"{oops", "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "invalid_request"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "invalid_request"),
        (b'{"a": "\xff"}', "invalid_request"),
        (b'{"a": 100000000000000000000}', "invalid_request"),
        (b'{"a": [-9223372036854775809]}', "invalid_request"),
        (b'{"a": 1e999}', "invalid_request"),
    ],
)
def test_the_body_decoder_turns_every_malformed_body_into_a_400(raw: bytes, code: str) -> None:
    with pytest.raises(KeyrelayError) as caught:
        decode_json(raw)
    assert (caught.value.code, caught.value.status) == (code, 400)


def test_the_body_decoder_accepts_the_limits_themselves() -> None:
    assert decode_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert decode_json(b'{"a": [9223372036854775807, -9223372036854775808]}') == {"a": [2**63 - 1, -(2**63)]}


def test_an_echoed_value_is_cut_and_a_message_never_grows_with_its_input() -> None:
    assert echo("gpt-4o") == "'gpt-4o'"
    assert len(echo("x" * 60_000)) < 100
    assert len(KeyrelayError("not_found", "x" * 60_000).message) < 1100


def test_an_oversized_header_is_refused_by_name_only() -> None:
    with pytest.raises(KeyrelayError) as caught:
        check_headers([(b"x-keyrelay-config", b"A" * (MAX_HEADER_VALUE_BYTES + 1))])
    assert caught.value.code == "invalid_header"
    assert "AAAA" not in caught.value.message


def test_every_management_route_names_a_classified_command_for_the_edge_pre_check() -> None:
    """The guard applies `shared.authz.RULES` before the body is read: each route must name its command."""
    app = create_app(GatewaySettings())
    unnamed = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            path = route.path
            if not path.startswith("/api/v1") or path.startswith(
                ("/api/v1/activity", "/api/v1/audit", "/api/v1/route")
            ):
                continue
            if path.startswith("/api/v1/schema") or path.endswith(".json"):
                continue
            if handler.http_methods <= {"OPTIONS", "HEAD"}:
                continue
            if handler.opt.get("command") not in RULES:
                unnamed.append((path, handler.handler_name))
    assert unnamed == []


def test_the_pre_check_refuses_only_callers_who_can_never_run_the_command() -> None:
    developer = m.MemberPrincipal(
        member_id="m", org_id="o", email="d@x.io", org_role="member", projects={"p": "developer"}
    )
    admin = m.MemberPrincipal(member_id="m", org_id="o", email="a@x.io", org_role="member", projects={"p": "admin"})
    with pytest.raises(KeyrelayError, match="owners"):
        precheck(admin, m.CreateIntegration)
    with pytest.raises(KeyrelayError):
        precheck(developer, m.CreateApiKey)
    precheck(admin, m.CreateApiKey)
    precheck(developer, m.ListApiKeys)
