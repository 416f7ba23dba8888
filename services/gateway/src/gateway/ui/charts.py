"""Server-rendered SVG line charts: one line per integration over time buckets.

Plain SVG with presentation attributes only (no inline style, no script), so the page's CSP stays
strict. Each chart carries a text summary for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from markupsafe import Markup

PALETTE = ("#3346d3", "#d9602b", "#13795b", "#9b3fc0", "#c23a5a", "#1f8fa3", "#8a7a12", "#5a6270")
_W, _H = 560, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 14, 30


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: list[float | None]


def bucket_start(ts: datetime, size: str) -> datetime:
    """The start (UTC) of the hour or day bucket `ts` falls in."""
    start = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if size == "day" else start


def buckets(since: datetime, until: datetime, size: str) -> list[str]:
    """Bucket labels as activity formats them (`%Y-%m-%dT%H:00` or `%Y-%m-%d`), oldest first."""
    step = timedelta(hours=1) if size == "hour" else timedelta(days=1)
    fmt = "%Y-%m-%dT%H:00" if size == "hour" else "%Y-%m-%d"
    out = []
    current = bucket_start(since, size)
    while current < until:
        out.append(current.strftime(fmt))
        current += step
    return out


def series_from_rows(
    rows: Sequence[dict[str, object]], labels: list[str], metric: str, *, limit: int = len(PALETTE)
) -> list[Series]:
    """One series per integration (busiest first), aligned on `labels`."""
    index = {label: i for i, label in enumerate(labels)}
    totals: dict[str, float] = {}
    by_name: dict[str, list[float | None]] = {}
    for row in rows:
        name = str(row.get("integration") or "(none)")
        position = index.get(str(row.get("bucket")))
        if position is None:
            continue
        values = by_name.setdefault(name, [None] * len(labels))
        value = row.get(metric)
        values[position] = float(value) if isinstance(value, (int, float)) else None
        totals[name] = totals.get(name, 0.0) + float(row.get("requests") or 0)  # type: ignore[arg-type]
    names = sorted(by_name, key=lambda n: (-totals[n], n))[:limit]
    zero_fill = metric in {"requests", "errors", "cost_usd", "savings_usd"}
    return [
        Series(
            name=name,
            colour=PALETTE[i % len(PALETTE)],
            values=[(v if v is not None else (0.0 if zero_fill else None)) for v in by_name[name]],
        )
        for i, name in enumerate(names)
    ]


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `value`."""
    if value <= 0:
        return 1.0
    magnitude: float = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return value


def line_chart(
    title: str,
    labels: list[str],
    series: list[Series],
    fmt: Callable[[float], str],
    *,
    additive: bool = True,
    integer: bool = False,
) -> Markup:
    """An SVG chart; `labels` are the x buckets, each series one line (gaps where None). The text
    summary gives each series' total (`additive`) or its peak."""
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    top = max(4.0, _nice_max(peak)) if integer else _nice_max(peak)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    count = max(1, len(labels) - 1)

    def x(i: int) -> float:
        return _LEFT + plot_w * i / count

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / top)

    def overall(values: list[float | None]) -> float:
        present = [v for v in values if v is not None]
        return (sum(present) if additive else max(present, default=0.0)) if present else 0.0

    word = "total" if additive else "peak"
    summary = "; ".join(f"{s.name}: {word} {fmt(overall(s.values))}" for s in series) or "no data"
    parts = [
        (
            f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}. {escape(summary)}"'
            ' xmlns="http://www.w3.org/2000/svg">'
        )
    ]
    for i in range(5):
        tick = top * i / 4
        gy = y(tick)
        parts.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#e6e8ec"/>')
        parts.append(
            f'<text x="{_LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" fill="#6b7280">'
            f"{escape(fmt(tick))}</text>"
        )
    if labels:
        ticks = sorted({0, len(labels) // 2, len(labels) - 1})
        for i in ticks:
            label = labels[i][5:].replace("T", " ")
            anchor = "start" if i == 0 else ("end" if i == len(labels) - 1 else "middle")
            parts.append(
                f'<text x="{x(i):.1f}" y="{_H - 8}" text-anchor="{anchor}" font-size="11" fill="#6b7280">'
                f"{escape(label)}</text>"
            )
    xs = [f"{x(i):.1f}" for i in range(len(labels))]
    for s in series:
        segment: list[str] = []
        for i, point in enumerate(s.values):
            if point is None:
                if len(segment) > 1:
                    parts.append(_polyline(segment, s.colour))
                segment = []
                continue
            px, py = xs[i], f"{y(point):.1f}"
            segment.append(f"{px},{py}")
            if point or len(labels) == 1:  # dots mark buckets with traffic
                parts.append(f'<circle cx="{px}" cy="{py}" r="2.6" fill="{s.colour}"/>')
        if len(segment) > 1:
            parts.append(_polyline(segment, s.colour))
    if not series:
        parts.append(
            f'<text x="{_W / 2:.0f}" y="{_H / 2:.0f}" text-anchor="middle" font-size="13" fill="#6b7280">'
            "No requests in this range</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from escaped text and numbers only


def _polyline(points: list[str], colour: str) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>'


def swatch(colour: str) -> Markup:
    svg = (
        '<svg width="10" height="10" aria-hidden="true">'
        f'<rect width="10" height="10" rx="2" fill="{escape(colour)}"/></svg>'
    )
    return Markup(svg)  # noqa: S704 - our own markup around an escaped colour
