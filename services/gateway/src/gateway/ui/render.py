"""Rendering: one Jinja2 environment (autoescaped) for Litestar's template engine, page helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from gateway.ui.context import Console, FieldError
from gateway.ui.security import PROJECT_COOKIE, set_cookie
from shared.messages import catalog as m

NAV = (
    ("integrations", "External Keys", "/ui/integrations"),
    ("activity", "Activity", "/ui/activity"),
    ("virtual-models", "Virtual models", "/ui/virtual-models"),
    ("configs", "Configs", "/ui/configs"),
    ("keys", "API keys", "/ui/keys"),
    ("members", "Members", "/ui/members"),
    ("audit", "Audit log", "/ui/audit"),
)


def _when(value: str | None) -> str:
    if not value:
        return "never"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.strftime("%Y-%m-%d %H:%M")


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("gateway.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["when"] = _when
    env.filters["money"] = _money
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


PAGE_SIZE = 50
PROJECT_COOKIE_AGE_S = 365 * 86400


def paginate(items: list[Any], page_number: int, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of a catalog list (catalog answers whole lists; the console shows 50 at a time)."""
    pages = max(1, -(-len(items) // size))
    current = min(max(1, page_number), pages)
    return {
        "items": items[(current - 1) * size : current * size],
        "page": current,
        "pages": pages,
        "prev": current - 1 if current > 1 else None,
        "next": current + 1 if current < pages else None,
    }


def errors_by_field(error: FieldError | None) -> dict[str, str]:
    """`{param: message}`; an error without a param is shown at the top of the form (`_`)."""
    if error is None:
        return {}
    return {(error.param or "_"): error.message}


async def data_of(read: Awaitable[Any]) -> list[Any]:
    """The `data` list of a catalog list command's answer."""
    return (await read).get("data", [])  # type: ignore[no-any-return]


async def _nothing() -> list[Any]:
    return []


async def listing_page(
    console: Console,
    template: str,
    /,
    *,
    section: str,
    items_as: str,
    command: m.Command | None,
    page_number: int = 1,
    error: FieldError | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
    reads: Mapping[str, Awaitable[Any]] | None = None,
    **context: Any,
) -> Template:
    """A page showing one page of what the list `command` answers (none without one) as `items_as`,
    with its form's `values` and `error`; the other `reads` go out with it, each answer into the
    context under its name."""
    names = list(reads or {})
    listing, *answers = await asyncio.gather(
        data_of(console.run(command)) if command is not None else _nothing(),
        *((reads or {})[name] for name in names),
    )
    context.update(zip(names, answers, strict=True))
    paged = paginate(listing, page_number)
    context[items_as] = paged["items"]
    return page(
        console,
        template,
        section=section,
        status=status,
        pager=paged,
        errors=errors_by_field(error),
        values=values or {},
        **context,
    )


def page(
    console: Console | None, template: str, /, *, section: str = "", status: int = 200, **context: Any
) -> Template:
    if console is not None and not console.is_ready:
        raise RuntimeError("a console page renders only after `await console.ready()` (or a read)")
    response = Template(
        template_name=template,
        context={"c": console, "nav": NAV if console else (), "section": section, **context},
        status_code=status,
    )
    if console is not None and console.project_id and console.request is not None:
        request = console.request
        if request.cookies.get(PROJECT_COOKIE) != console.project_id:
            # remembered, so the next page can send its reads for it before its project list is in
            set_cookie(response, request, PROJECT_COOKIE, console.project_id, max_age=PROJECT_COOKIE_AGE_S)
    return response
