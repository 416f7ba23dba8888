"""The `/ui` router: pages, the static files (our own CSS and JS), security headers on every
answer, and what a page does when there is no session, no CSRF token or a refused command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from gateway.ui.access import ACCESS_ROUTES
from gateway.ui.activity import ACTIVITY_ROUTES
from gateway.ui.auth import AUTH_ROUTES
from gateway.ui.context import CsrfRefused, SignInRequired, load_console
from gateway.ui.integrations import INTEGRATION_ROUTES
from gateway.ui.pricing import PRICING_ROUTES
from gateway.ui.render import page
from gateway.ui.routing import ROUTING_ROUTES
from gateway.ui.security import SECURITY_HEADERS
from shared.errors import KeyrelayError

STATIC = Path(__file__).parent / "static"


async def _headers(response: Response[Any]) -> Response[Any]:
    return _headers_now(response)


def _message(status: int, title: str, message: str) -> Response[Any]:
    return _headers_now(page(None, "error.html", status=status, title=title, message=message))


def _sign_in(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    if request.method != "GET":
        return _message(401, "Signed out", "Your session ended. Sign in again.")
    return _headers_now(Redirect("/ui/signin"))


def _csrf(_: Request[Any, Any, Any], __: CsrfRefused) -> Response[Any]:
    return _message(403, "Refused", "This form is stale or did not come from this console. Reload it and try again.")


def _refused(request: Request[Any, Any, Any], exc: KeyrelayError) -> Response[Any]:
    if exc.code == "unauthorized":
        return _sign_in(request, SignInRequired())
    return _message(exc.status, _TITLES.get(exc.status, "Refused"), exc.message)


_TITLES = {403: "Not allowed", 404: "Not found", 409: "Conflict", 400: "Not accepted", 503: "Unavailable"}


def _headers_now(response: Response[Any]) -> Response[Any]:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def console_router() -> Router:
    return Router(
        path="/ui",
        route_handlers=[
            *AUTH_ROUTES,
            *INTEGRATION_ROUTES,
            *PRICING_ROUTES,
            *ACTIVITY_ROUTES,
            *ACCESS_ROUTES,
            *ROUTING_ROUTES,
            create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
        ],
        dependencies={"console": Provide(load_console)},
        after_request=_headers,
        exception_handlers={SignInRequired: _sign_in, CsrfRefused: _csrf, KeyrelayError: _refused},
        include_in_schema=False,
    )
