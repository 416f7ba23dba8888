"""Sign-in pages: first password with the one-time member token, email sign-in, sign-out,
and the project switcher. Catalog checks everything; the edge runs the KDF and the limiter."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from gateway.api.edge import request_id
from gateway.api.state import GatewayState
from gateway.ui.context import Console, CsrfRefused, FieldError
from gateway.ui.render import page
from gateway.ui.security import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    PRE_CSRF_COOKIE,
    PROJECT_COOKIE,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    SESSION_COOKIE,
    ClientLimiter,
    clear_cookie,
    derive_proof,
    new_salt,
    new_session_token,
    set_cookie,
    tokens_match,
)
from shared import subjects
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import hash_token

LIMITER = ClientLimiter()
_SESSION_MAX_AGE = 12 * 3600


def _pre_csrf(request: Request[Any, Any, Any]) -> str:
    return request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)


def _anonymous(request: Request[Any, Any, Any], name: str, status: int = 200, **context: Any) -> Template:
    token = _pre_csrf(request)
    response = page(None, name, status=status, csrf=token, **context)
    set_cookie(response, request, PRE_CSRF_COOKIE, token, max_age=3600)
    return response


async def _anonymous_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    data = await request.form()
    if not tokens_match(request.cookies.get(PRE_CSRF_COOKIE, ""), data.get("csrf")):
        raise CsrfRefused
    return {key: data.get(key) for key in data}


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


@get("/signin")
async def signin_form(request: Request[Any, Any, Any]) -> Template:
    return _anonymous(request, "signin.html", email="", error=None, notice=request.query_params.get("notice"))


@post("/signin")
async def signin(request: Request[Any, Any, Any], gw: GatewayState) -> Response[Any]:
    form = await _anonymous_form(request)
    email = str(form.get("email") or "").strip()[:320]
    password = str(form.get("password") or "")
    client = _client(request)

    def refuse(message: str, status: int, param: str | None = "password") -> Template:
        return _anonymous(request, "signin.html", status=status, email=email, error=FieldError(message, param))

    if LIMITER.blocked(client):
        return refuse("Too many failed sign-ins from this address. Wait a few minutes.", 429, None)
    if not email or not password or len(password) > MAX_PASSWORD:
        return refuse("Enter your email and password.", 400)
    rid = request_id(request)
    params = await gw.bus.request(
        subjects.CATALOG_PASSWORD_PARAMS, m.GetPasswordParams(email=email), m.PasswordParams, dependency="catalog"
    )
    proof = await derive_proof(password, params.salt, params.n, params.r, params.p)
    token = new_session_token()
    try:
        await gw.bus.request(
            subjects.CATALOG_SESSION_START,
            m.StartSession(email=email, proof=proof, session_hash=hash_token(token)),
            m.SessionStarted,
            dependency="catalog",
        )
    except KeyrelayError as exc:
        if exc.code == "rate_limited":
            return refuse("Too many failed sign-ins for this account. Try again in a minute.", 429, None)
        if exc.code != "unauthorized":
            raise
        LIMITER.failed(client)
        return refuse("Wrong email or password.", 401)
    response: Response[Any] = Redirect("/ui/integrations", headers={"x-request-id": rid})
    set_cookie(response, request, SESSION_COOKIE, token, max_age=_SESSION_MAX_AGE)
    clear_cookie(response, request, PRE_CSRF_COOKIE)
    return response


@get("/set-password")
async def set_password_form(request: Request[Any, Any, Any]) -> Template:
    return _anonymous(request, "set_password.html", error=None)


@post("/set-password")
async def set_password(request: Request[Any, Any, Any], gw: GatewayState) -> Response[Any]:
    form = await _anonymous_form(request)
    member_token = str(form.get("token") or "").strip()
    password = str(form.get("password") or "")
    confirm = str(form.get("confirm") or "")

    def refuse(message: str, param: str, status: int = 400) -> Template:
        return _anonymous(request, "set_password.html", status=status, error=FieldError(message, param))

    if LIMITER.blocked(_client(request)):
        return refuse("Too many failed attempts from this address. Wait a few minutes.", "token", 429)
    if not member_token:
        return refuse("Paste the member token you were given.", "token")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return refuse(f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters.", "password")
    if password != confirm:
        return refuse("The two passwords differ.", "confirm")
    salt = new_salt()
    proof = await derive_proof(password, salt)
    try:
        await gw.bus.request(
            subjects.CATALOG_PASSWORD_SET,
            m.SetPassword(
                token_hash=hash_token(member_token), salt=salt, proof=proof, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
            ),
            m.Ack,
            dependency="catalog",
        )
    except KeyrelayError as exc:
        if exc.code == "unauthorized":
            LIMITER.failed(_client(request))
            return refuse("This token is not valid.", "token", 401)
        if exc.code == "conflict":
            return refuse("A password was already set with this token. Sign in instead.", "token", 409)
        raise
    return Redirect("/ui/signin?notice=password-set")


@post("/signout")
async def signout(request: Request[Any, Any, Any], gw: GatewayState, console: Console) -> Response[Any]:
    await console.form()
    await gw.bus.request(
        subjects.CATALOG_SESSION_END, m.EndSession(session_hash=hash_token(console.token)), m.Ack, dependency="catalog"
    )
    gw.catalog.forget_session(console.token)
    response: Response[Any] = Redirect("/ui/signin")
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@post("/project")
async def switch_project(request: Request[Any, Any, Any], console: Console) -> Response[Any]:
    form = await console.form()
    project_id = str(form.get("project_id") or "")
    target = str(form.get("next") or "/ui/integrations")
    if not target.startswith("/ui/") or target.startswith("//"):
        target = "/ui/integrations"
    response: Response[Any] = Redirect(target)
    if any(p["id"] == project_id for p in console.projects):
        set_cookie(response, request, PROJECT_COOKIE, project_id, max_age=365 * 86400)
    return response


@get("/")
async def home() -> Redirect:
    return Redirect("/ui/integrations")


AUTH_ROUTES = [signin_form, signin, set_password_form, set_password, signout, switch_project, home]
