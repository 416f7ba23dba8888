"""Who is calling, decided before anything else of the request is read.

Litestar runs route guards before it parses path, query or body parameters, so every guard here
answers 401 (no or unknown credentials) or 403 (the caller's role can never run this route) while
the body is still unread: a caller without the right learns nothing from validation errors, and an
anonymous caller cannot make the gateway parse anything.

Management routes name the catalog command they send (`opt={"command": ...}`); the guard applies the
part of `shared.authz.RULES` that needs no body. catalog still authorises every command in full.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from gateway.api.edge import bearer, request_id
from gateway.api.state import GatewayState
from shared.authz import precheck
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.catalog import ApiKeyPrincipal, MemberPrincipal, RecordDenied
from shared.tokens import API_KEY_PREFIX

Connection = ASGIConnection[Any, Any, Any, Any]
log = get_logger("keyrelay.gateway.auth")


def _state(connection: Connection) -> dict[str, Any]:
    state: dict[str, Any] = connection.scope.setdefault("state", {})
    return state


async def member_guard(connection: Connection, handler: BaseRouteHandler) -> None:
    """A member token, and a role that could run the route's command (or `opt["owner_only"]`)."""
    gw: GatewayState = connection.app.state.gw
    rid = request_id(connection)
    token = bearer(connection, allow_x_api_key=False)
    member = await gw.catalog.member(token)
    command = handler.opt.get("command")
    if command is not None:
        try:
            precheck(member, command)
        except KeyrelayError:
            await _record_denied(gw, token, command.__name__, rid)
            raise
    if handler.opt.get("owner_only") and member.org_role != "owner":
        raise KeyrelayError("owner_required", "only organization owners may do this")
    _state(connection)["member"] = member


async def _record_denied(gw: GatewayState, token: str, command: str, rid: str) -> None:
    """catalog audits a refusal made here, as it audits its own (the refusal stands either way)."""
    try:
        await gw.catalog.manage(token, RecordDenied(command=command), rid, timeout_s=2.0)
    except KeyrelayError as exc:
        log.warning("gateway.denial_not_audited", command=command, error=exc.code)


async def caller_guard(connection: Connection, _: BaseRouteHandler) -> None:
    """An API key or a member token (route explain accepts both)."""
    gw: GatewayState = connection.app.state.gw
    request_id(connection)
    token = bearer(connection)
    caller: ApiKeyPrincipal | MemberPrincipal
    if token.startswith(API_KEY_PREFIX):
        caller = await gw.catalog.api_key(token)
    else:
        caller = await gw.catalog.member(token)
    _state(connection)["caller"] = caller


def member_of(connection: Connection) -> MemberPrincipal:
    """The member `member_guard` authenticated for this request."""
    member: MemberPrincipal = _state(connection)["member"]
    return member


def caller_of(connection: Connection) -> ApiKeyPrincipal | MemberPrincipal:
    """The API key or member `caller_guard` authenticated for this request."""
    caller: ApiKeyPrincipal | MemberPrincipal = _state(connection)["caller"]
    return caller
