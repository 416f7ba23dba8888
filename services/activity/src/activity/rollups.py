"""Hourly roll-ups of the request records: pure arithmetic, no I/O.

A roll-up row holds, for one org, project, integration, model and UTC hour, the sums of those
records (requests, errors, tokens, costs) and a latency histogram. The rows of an hour are a cache
derived from the records, stored with the generation of that hour they were computed at (see
`ActivityRepository.hourly_rows` and docs/activity.md); this module only computes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Doc = dict[str, Any]
COLLECTION = "requests_hourly"
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens")
SUMS = ("requests", "errors", "cost_usd", "list_cost_usd", *TOKENS)
# what a roll-up needs of a record (records are read with this projection)
RECORD_FIELDS = ("ts", "org_id", "project_id", "integration", "model_requested", "status", "latency_ms", "usage",
                 "cost_usd", "list_cost_usd")  # fmt: skip
# Upper bounds (ms, inclusive) of the latency histogram's buckets; a last bucket holds the rest.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
    10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
)  # fmt: skip
OVERFLOW = len(LATENCY_BOUNDS_MS)
_ERROR_STATUS = 400


def aware(ts: datetime) -> datetime:
    """Stored datetimes are UTC; a naive one (a client without `tz_aware`) is read as UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def hour_of(ts: datetime) -> datetime:
    return aware(ts).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_id(org_id: str, hour: datetime) -> str:
    """The `_id` of an org's hour in `requests_hourly`."""
    return f"{org_id}|{hour.strftime('%Y-%m-%dT%H')}"


def latency_bucket(latency_ms: float) -> int:
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return OVERFLOW


def _group(doc: Doc) -> tuple[str, str | None, str]:
    return (doc.get("project_id") or "", doc.get("integration"), doc.get("model_requested") or "")


def _add(row: Doc, doc: Doc, sign: int) -> None:
    usage = doc.get("usage") or {}
    row["requests"] += sign
    row["errors"] += sign if int(doc.get("status") or 0) >= _ERROR_STATUS else 0
    row["cost_usd"] += sign * float(doc.get("cost_usd") or 0.0)
    row["list_cost_usd"] += sign * float(doc.get("list_cost_usd") or 0.0)
    for name in TOKENS:
        row[name] += sign * int(usage.get(name) or 0)
    latency = doc.get("latency_ms")
    if isinstance(latency, (int, float)):
        bucket = str(latency_bucket(float(latency)))
        row["latency"][bucket] = row["latency"].get(bucket, 0) + sign


def rows_of(records: Iterable[Doc], sign: int = 1) -> list[Doc]:
    """The roll-up rows of these records, one per (project, integration, model) (no hour, no org);
    `sign` -1 gives rows that take the records back out of a sum."""
    rows: dict[tuple[str, str | None, str], Doc] = {}
    for doc in records:
        group = _group(doc)
        row = rows.get(group)
        if row is None:
            row = rows[group] = {
                "project_id": group[0],
                "integration": group[1],
                "model": group[2],
                **dict.fromkeys(SUMS, 0),
                "latency": {},
            }
        _add(row, doc, sign)
    return list(rows.values())


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """The upper bound of the bucket holding the q-th record (same rank rule as the raw summary);
    the overflow bucket answers with the last bound."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(0, min(total - 1, round(q * (total - 1))))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen > rank:
            return float(LATENCY_BOUNDS_MS[min(index, OVERFLOW - 1)])
    return float(LATENCY_BOUNDS_MS[-1])
