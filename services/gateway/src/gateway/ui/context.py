"""The signed-in caller of a console page and the one way pages reach the system.

`Console.run()` sends the SAME typed management command the HTTP API sends, through the same
`CatalogClient.manage()`, authenticated by the session token exactly as the API is by a member
token: catalog authenticates and authorises every command. Activity reads go through the same
scope the API's activity routes use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect

from gateway.api.activity import query_activity, scope_of
from gateway.api.edge import request_id
from gateway.api.state import GatewayState
from gateway.ui.security import PROJECT_COOKIE, SESSION_COOKIE, csrf_for, tokens_match
from shared.errors import KeyrelayError
from shared.messages import activity as a
from shared.messages import catalog as m

_json = msgspec.json.Decoder()
T = TypeVar("T")


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


class CsrfRefused(Exception):
    """A state-changing form without this session's CSRF token."""


@dataclass(slots=True)
class FieldError:
    message: str
    param: str | None = None
    code: str = "invalid_request"


def field_error(exc: KeyrelayError) -> FieldError:
    return FieldError(message=exc.message, param=exc.param, code=exc.code)


def usd_field(form: dict[str, Any], name: str, *, most: float, not_a_number: str, out_of_range: str) -> float | None:
    """A form's amount in USD between 0 and `most`, or None when left empty (a field error otherwise)."""
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise KeyrelayError("invalid_request", not_a_number, param=name) from None
    if not 0 <= value <= most:
        raise KeyrelayError("invalid_request", out_of_range, param=name)
    return value


@dataclass(slots=True)
class Console:
    gw: GatewayState
    request: Request[Any, Any, Any]
    token: str
    principal: m.MemberPrincipal
    rid: str
    projects: list[dict[str, Any]] = field(default_factory=list)
    project_id: str = ""  # the project cookie's until `ready()`, then one of `projects`
    listing: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        """Wait for this page's project list (asked for when the page started, side by side with
        the page's own first reads; catalog authenticates the session with it): `projects` and the
        current `project_id` are known after this. `SignInRequired` if the session is gone."""
        if self.listing is not None:
            await self.listing

    @property
    def is_ready(self) -> bool:
        return self.listing is None or (self.listing.done() and not self.listing.cancelled())

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    @property
    def is_owner(self) -> bool:
        return self.principal.org_role == "owner"

    def project_role(self, project_id: str | None = None) -> str | None:
        return self.principal.project_role(project_id or self.project_id)

    @property
    def can_admin_project(self) -> bool:
        return self.project_role() in {"owner", "admin"}

    @property
    def project_name(self) -> str:
        return next((p["name"] for p in self.projects if p["id"] == self.project_id), self.project_id)

    async def run(self, command: m.Command) -> Any:
        """One management command; catalog's JSON body (a refusal raises `KeyrelayError`). Sent at
        once; answers once the page's project list is in too (a lost session wins)."""
        reply = await self._with_projects(self.gw.catalog.manage(self.token, command, self.rid))
        return _json.decode(bytes(reply.body)) if bytes(reply.body) else None

    async def providers(self) -> list[dict[str, Any]]:
        """The provider catalog (`ListProviders`, the same for every member), remembered by the
        gateway for a few minutes (`CatalogClient.providers`)."""
        return await self._with_projects(self.gw.catalog.providers(self.token, self.rid))

    async def integration_choices(self) -> list[dict[str, Any]]:
        """The slugs of the integrations this member sees (`[{"slug": ...}]`), for a filter or a
        target's select: what `ListIntegrations` answered this session until the org changes
        (`CatalogClient.listed`). Pages that show an integration's state read it with `run()`."""
        return await self.gw.catalog.listed(self.token, self.principal, m.ListIntegrations(), ("slug",), self.rid)

    async def act(self, command: m.Command, then: str) -> Response[Any]:
        """A form button's action (delete, revoke, remove): CSRF-checked, run, then on to `then`."""
        await self.form()
        await self.run(command)
        return Redirect(then)

    async def activity(self, query: a.ActivityQuery) -> Any:
        result = await self._with_projects(query_activity(self.gw, query))
        body = _json.decode(bytes(result.body))
        if result.status >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise KeyrelayError(str(error.get("code", "invalid_request")), str(error.get("message", "refused")))
        return body

    async def _with_projects(self, read: Awaitable[T]) -> T:
        answer, listed = await asyncio.gather(read, self.ready(), return_exceptions=True)
        if isinstance(listed, BaseException):
            raise listed
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def scope(self) -> a.Scope:
        return scope_of(self.principal)

    async def form(self) -> dict[str, Any]:
        """The posted form (url-encoded or multipart), refused unless it carries the CSRF token."""
        await self.ready()
        data = await self.request.form()
        if not tokens_match(self.csrf, data.get("csrf")):
            raise CsrfRefused
        return {key: (data.getall(key) if len(data.getall(key)) > 1 else data.get(key)) for key in data}


def action_route(path: str, command: Callable[..., m.Command], then: str, name: str) -> HTTPRouteHandler:
    """A form button's route (delete, revoke, remove): the command from the path's parameters alone,
    then on to `then` (formatted with them)."""

    async def handler(console: Console) -> Response[Any]:
        params = console.request.path_params
        return await console.act(command(**params), then.format(**params))

    handler.__name__ = handler.__qualname__ = name
    return post(path)(handler)


async def load_console(request: Request[Any, Any, Any], gw: GatewayState) -> Console:
    """The caller of this page: a live session (checked by catalog) or `SignInRequired`."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise SignInRequired
    rid = request_id(request)
    try:
        principal = await gw.catalog.member(token)
    except KeyrelayError as exc:
        if exc.code == "unauthorized":
            raise SignInRequired from None
        raise
    wanted = request.cookies.get(PROJECT_COOKIE, "")
    console = Console(gw=gw, request=request, token=token, principal=principal, rid=rid, project_id=wanted)
    console.listing = asyncio.create_task(_list_projects(console, wanted))
    console.listing.add_done_callback(_retrieved)
    return console


async def _list_projects(console: Console, wanted: str) -> None:
    try:
        console.projects = await console.gw.catalog.listed(
            console.token, console.principal, m.ListProjects(), ("id", "name"), console.rid
        )
    except KeyrelayError as exc:
        if exc.code == "unauthorized":
            raise SignInRequired from None
        raise
    ids = [p["id"] for p in console.projects]
    console.project_id = wanted if wanted in ids else (ids[0] if ids else "")


def _retrieved(task: asyncio.Task[None]) -> None:
    """A page that failed before waiting for its project list does not leave its error unread."""
    if not task.cancelled():
        task.exception()
