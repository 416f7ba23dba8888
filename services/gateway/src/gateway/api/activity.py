"""Activity and audit reads: the caller's member token decides the scope, activity answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, Router, get
from litestar.params import Parameter

from gateway.api.auth import member_guard, member_of
from gateway.api.edge import request_id
from gateway.api.state import GatewayState
from shared import subjects
from shared.messages import activity as a
from shared.messages.catalog import MemberPrincipal


def scope_of(member: MemberPrincipal) -> a.Scope:
    """What a member may read: owners the whole org, others their projects (API and console alike)."""
    projects = None if member.org_role == "owner" else sorted(member.projects)
    return a.Scope(org_id=member.org_id, project_ids=projects)


MAX_PAGE = 500


def _scope(request: Request[Any, Any, Any]) -> tuple[str, a.Scope]:
    """The member the router's guard authenticated (before any query parameter was parsed)."""
    member = member_of(request)
    return request_id(request), scope_of(member)


async def query_activity(gw: GatewayState, query: a.ActivityQuery) -> a.QueryResult:
    """One read of the activity store (the API's routes and the console's pages alike)."""
    request = a.ActivityQueryRequest(query=query)
    return await gw.bus.request(subjects.ACTIVITY_QUERY, request, a.QueryResult, timeout_s=10.0, dependency="activity")


async def _ask(gw: GatewayState, rid: str, query: a.ActivityQuery) -> Response[bytes]:
    result = await query_activity(gw, query)
    return Response(
        bytes(result.body), status_code=result.status, media_type="application/json", headers={"x-request-id": rid}
    )


@get("/activity")
async def list_activity(
    request: Request[Any, Any, Any],
    gw: GatewayState,
    integration: str | None = None,
    model: str | None = None,
    project_id: str | None = None,
    api_key_id: str | None = None,
    status: Annotated[int | None, Parameter(ge=100, le=599)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
) -> Response[bytes]:
    rid, scope = _scope(request)
    query = a.ListRequestRecords(
        scope=scope,
        integration=integration,
        model=model,
        project_id=project_id,
        api_key_id=api_key_id,
        status=status,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return await _ask(gw, rid, query)


@get("/activity/summary")
async def activity_summary(
    request: Request[Any, Any, Any],
    gw: GatewayState,
    group_by: a.GroupBy = "integration",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response[bytes]:
    rid, scope = _scope(request)
    return await _ask(gw, rid, a.SummarizeRequests(scope=scope, group_by=group_by, since=since, until=until))


@get("/activity/{request_id_:str}")
async def get_activity(request: Request[Any, Any, Any], gw: GatewayState, request_id_: str) -> Response[bytes]:
    rid, scope = _scope(request)
    return await _ask(gw, rid, a.GetRequestRecord(scope=scope, request_id=request_id_))


@get("/audit", opt={"owner_only": True})
async def list_audit(
    request: Request[Any, Any, Any],
    gw: GatewayState,
    cursor: str | None = None,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
) -> Response[bytes]:
    rid, scope = _scope(request)
    return await _ask(gw, rid, a.ListAudit(scope=scope, cursor=cursor, limit=limit))


ACTIVITY_ROUTES = [
    Router(
        path="/api/v1",
        route_handlers=[list_activity, activity_summary, get_activity, list_audit],
        guards=[member_guard],
    )
]
