"""Activity: filterable request table with cursor paging, a detail view with each attempt, and
charts (requests, errors, cost, p95 latency per integration over time). Reads go to activity with
the caller's scope, exactly as `GET /api/v1/activity` does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import get
from litestar.response import Template

from gateway.ui.charts import bucket_start, buckets, line_chart, series_from_rows, swatch
from gateway.ui.context import Console
from gateway.ui.render import page
from shared.messages import activity as a

SECTION = "activity"
RANGES = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "hour"), "30d": (timedelta(days=30), "day")}
RANGE_LABELS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
STATUSES = (200, 400, 401, 402, 403, 404, 429, 500, 502, 503, 504)
PAGE_SIZE = 50


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _usd(value: float) -> str:
    if value >= 1 or value == 0:
        return f"${value:,.2f}"
    return "$" + f"{value:.6f}".rstrip("0")


def savings(row: dict[str, Any]) -> float:
    """What the org's own prices saved against list prices (negative: it paid more than list)."""
    return round(float(row.get("list_cost_usd") or 0.0) - float(row.get("cost_usd") or 0.0), 10)


def charts(rows: list[dict[str, Any]], since: datetime, until: datetime, size: str) -> dict[str, Any]:
    labels = buckets(since, until, size)
    rows = [row | {"savings_usd": savings(row)} for row in rows]
    made: dict[str, dict[str, Any]] = {}
    for key, title, fmt in (
        ("requests", "Requests", _count),
        ("errors", "Errors", _count),
        ("cost_usd", "Cost (USD)", _usd),
        ("savings_usd", "Saved vs list price (USD)", _usd),
        ("p95_latency_ms", "p95 latency", _ms),
    ):
        series = series_from_rows(rows, labels, key)
        made[key] = {
            "title": title,
            "svg": line_chart(
                title, labels, series, fmt, additive=key != "p95_latency_ms", integer=key in {"requests", "errors"}
            ),
            "series": series,
        }
    legend = [{"name": s.name, "swatch": swatch(s.colour)} for s in made["requests"]["series"]]
    return {"items": made, "legend": legend}


@get("/activity")
async def activity_page(
    console: Console,
    integration: str = "",
    model: str = "",
    project: str = "",
    status: str = "",
    period: str = "24h",
    cursor: str = "",
) -> Template:
    window, size = RANGES.get(period, RANGES["24h"])
    until = datetime.now(UTC)
    since = until - window
    status_code = int(status) if status.isdigit() else None

    def query() -> a.RequestsPage:
        """The table's page and the charts' series: one read of activity, answered side by side."""
        project_id = console.project_id if project == "" else (None if project == "all" else project)
        records = a.ListRequestRecords(
            scope=console.scope,
            integration=integration or None,
            model=model or None,
            project_id=project_id,
            status=status_code,
            since=since,
            until=until,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
        series = a.SeriesRequests(
            scope=console.scope,
            bucket=size,  # type: ignore[arg-type]
            project_id=project_id,
            integration=integration or None,
            since=bucket_start(since, size),  # every point of a chart is a whole hour (day)
            until=until,
        )
        return a.RequestsPage(records=records, series=series)

    # the current project is the cookie's while the project list is on its way (the activity scope
    # holds only the caller's projects whatever it names); read again if the list says otherwise.
    # The integration filter's choices are read with it (remembered for the session).
    if not console.project_id:
        await console.ready()
    tentative = console.project_id
    answer, integrations = await asyncio.gather(console.activity(query()), console.integration_choices())
    if project == "" and console.project_id != tentative:
        answer = await console.activity(query())
    listing: dict[str, Any] = answer.get("records") or {"data": [], "next_cursor": None}
    error = (answer.get("records_error") or {}).get("message")  # e.g. a stale cursor: show it, keep the page
    chart_notice = None
    if answer.get("series") is None:
        chart_notice = "The charts took too long to compute; the table below is complete. Narrow the filters or reload."
    filters = {
        "integration": integration,
        "model": model,
        "project": project,
        "status": status,
        "period": period if period in RANGES else "24h",
    }
    next_link = None
    if listing.get("next_cursor"):
        next_link = "/ui/activity?" + urlencode({**filters, "cursor": listing["next_cursor"]})
    return page(
        console,
        "activity.html",
        section=SECTION,
        recent=listing.get("data", []),
        next_link=next_link,
        first_link=("/ui/activity?" + urlencode(filters)) if cursor else None,
        filters=filters,
        integrations=integrations,
        statuses=STATUSES,
        ranges=RANGE_LABELS,
        charts=charts((answer.get("series") or {}).get("data", []), since, until, size),
        chart_notice=chart_notice,
        error=error,
    )


@get("/activity/{request_id:str}")
async def activity_detail(console: Console, request_id: str) -> Template:
    record = await console.activity(a.GetRequestRecord(scope=console.scope, request_id=request_id))
    return page(console, "activity_detail.html", section=SECTION, r=record)


ACTIVITY_ROUTES = [activity_page, activity_detail]
