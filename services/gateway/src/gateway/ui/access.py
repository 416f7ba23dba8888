"""API keys (create: shown once; limits and budgets; revoke), members (invite with roles, change,
remove) and the audit log (owners). Each action is the management API's catalog command."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, TypeVar, get_args

from litestar import Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from gateway.ui.context import Console, action_route, field_error, usd_field
from gateway.ui.render import listing_page, page
from shared.errors import KeyrelayError
from shared.messages import activity as a
from shared.messages import catalog as m
from shared.tokens import API_KEY_PUBLIC_CHARS, hash_token, new_api_key, new_member_token

PERIODS: Final[tuple[m.BudgetPeriod, ...]] = get_args(m.BudgetPeriod)
ORG_ROLES: Final[tuple[m.OrgRole, ...]] = get_args(m.OrgRole)
PROJECT_ROLES: Final[tuple[m.ProjectRole, ...]] = get_args(m.ProjectRole)
Choice = TypeVar("Choice", bound=str)


def _choice(value: object, choices: tuple[Choice, ...]) -> Choice | None:
    """`value` if it is one of `choices` (a form's select), else None."""
    return next((choice for choice in choices if choice == value), None)


def _int(form: dict[str, Any], name: str) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise KeyrelayError("invalid_request", "enter a whole number", param=name)
    return int(raw)


def _float(form: dict[str, Any], name: str) -> float | None:
    return usd_field(
        form,
        name,
        most=1e9,
        not_a_number="enter an amount in USD, e.g. 25",
        out_of_range="enter an amount between 0 and 1,000,000,000",
    )


def _period(form: dict[str, Any]) -> m.BudgetPeriod | None:
    period = _choice(form.get("budget_period"), PERIODS)
    if period is None and form.get("budget_period"):
        raise KeyrelayError("invalid_request", "choose a budget period", param="budget_period")
    return period


def _expiry(form: dict[str, Any]) -> datetime | None:
    raw = str(form.get("expires_at") or "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise KeyrelayError("invalid_request", "enter a date like 2027-01-31", param="expires_at") from None


async def _keys_page(console: Console, **context: Any) -> Template:
    await console.ready()  # the current project first
    command = m.ListApiKeys(project_id=console.project_id)
    return await listing_page(
        console, "keys.html", section="keys", items_as="keys", command=command, periods=PERIODS, **context
    )


@get("/keys")
async def keys_page(console: Console, page_number: int = Parameter(query="page", default=1)) -> Template:
    return await _keys_page(console, page_number=page_number)


async def create_api_key(console: Console, key: str, command: m.CreateApiKey) -> dict[str, Any]:
    """The one place the console creates a key: the management API's command. The key is made here
    (`key`); catalog gets only its hash, and the answer shows the key once."""
    created: dict[str, Any] = await console.run(command)
    return {**created, "key": key}


@post("/keys")
async def keys_create(console: Console) -> Template:
    form = await console.form()
    try:
        models = [s.strip() for s in str(form.get("models") or "").split(",") if s.strip()] or None
        period = _period(form)
        key = new_api_key()
        created = await create_api_key(
            console,
            key,
            m.CreateApiKey(
                project_id=console.project_id,
                name=str(form.get("name") or "").strip(),
                key_hash=hash_token(key),
                key_prefix=key[:API_KEY_PUBLIC_CHARS],
                models=models,
                rpm=_int(form, "rpm"),
                tpm=_int(form, "tpm"),
                budget_usd=_float(form, "budget_usd"),
                budget_period=period,
                expires_at=_expiry(form),
            ),
        )
    except KeyrelayError as exc:
        values = {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}
        return await _keys_page(console, error=field_error(exc), values=values, status=exc.status)
    return await _keys_page(console, created=created, status=201)


keys_revoke = action_route("/keys/{api_key_id:str}/revoke", m.DeleteApiKey, "/ui/keys", "keys_revoke")


def _project_roles(form: dict[str, Any], console: Console) -> dict[str, m.ProjectRole]:
    roles = {project["id"]: _choice(form.get(f"role_{project['id']}"), PROJECT_ROLES) for project in console.projects}
    return {project_id: role for project_id, role in roles.items() if role is not None}


async def _members_page(console: Console, **context: Any) -> Template:
    command = m.ListMembers()
    return await listing_page(
        console, "members.html", section="members", items_as="members", command=command, **context
    )


@get("/members")
async def members_page(console: Console, page_number: int = Parameter(query="page", default=1)) -> Template:
    return await _members_page(console, page_number=page_number)


async def invite_member(console: Console, token: str, command: m.CreateMember) -> dict[str, Any]:
    """The one place the console invites: the management API's command. The member token is made
    here (`token`); catalog gets only its hash, and the answer shows the token once."""
    invited: dict[str, Any] = await console.run(command)
    return {**invited, "token": token}


@post("/members")
async def members_invite(console: Console) -> Template:
    form = await console.form()
    role = _choice(form.get("org_role"), ORG_ROLES) or "member"
    token = new_member_token()
    try:
        invited = await invite_member(
            console,
            token,
            m.CreateMember(
                email=str(form.get("email") or "").strip(),
                token_hash=hash_token(token),
                org_role=role,
                projects=_project_roles(form, console),
            ),
        )
    except KeyrelayError as exc:
        error = field_error(exc)
        if exc.code == "conflict":
            error.param = "email"
        values = {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}
        return await _members_page(console, error=error, values=values, status=exc.status)
    return await _members_page(console, invited=invited, status=201)


@post("/members/{member_id:str}")
async def members_update(console: Console, member_id: str) -> Response[Any]:
    form = await console.form()
    role = _choice(form.get("org_role"), ORG_ROLES)
    await console.run(
        m.UpdateMember(
            member_id=member_id,
            org_role=role,
            projects=_project_roles(form, console),
        )
    )
    return Redirect("/ui/members")


members_remove = action_route("/members/{member_id:str}/remove", m.DeleteMember, "/ui/members", "members_remove")


@get("/audit")
async def audit_page(console: Console, cursor: str = "") -> Template:
    if not console.is_owner:
        raise KeyrelayError("owner_required", "only organization owners may read the audit log")
    result = await console.activity(a.ListAudit(scope=console.scope, cursor=cursor or None, limit=50))
    return page(
        console,
        "audit.html",
        section="audit",
        events=result.get("data", []),
        next_cursor=result.get("next_cursor"),
        first=bool(cursor),
    )


ACCESS_ROUTES = [
    keys_page,
    keys_create,
    keys_revoke,
    members_page,
    members_invite,
    members_update,
    members_remove,
    audit_page,
]
