"""`requests_hourly`: per org, project, integration, model and UTC hour, the sums of the request
records (written with the records, see `ActivityRepository`), so summaries and charts read a few
hundred small documents instead of every record. The layout is described in docs/activity.md.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne

Doc = dict[str, Any]
COLLECTION = "requests_hourly"
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens")
# Upper bounds (ms, inclusive) of the latency histogram's buckets; a last bucket holds the rest.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
    10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
)  # fmt: skip
OVERFLOW = len(LATENCY_BOUNDS_MS)


def aware(ts: datetime) -> datetime:
    """Stored datetimes are UTC; a naive one (a client without `tz_aware`) is read as UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def hour_of(ts: datetime) -> datetime:
    return aware(ts).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def latency_bucket(latency_ms: float) -> int:
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return OVERFLOW


def _key(doc: Doc) -> tuple[str, str, str | None, str, datetime]:
    model = doc.get("model_requested") or ""
    return (doc["org_id"], doc["project_id"], doc.get("integration"), model, hour_of(doc["ts"]))


def fields_of(doc: Doc) -> dict[str, float]:
    """What one record adds to its hour's roll-up."""
    usage = doc.get("usage") or {}
    fields: dict[str, float] = {
        "requests": 1,
        "errors": 1 if int(doc.get("status") or 0) >= 400 else 0,
        "cost_usd": float(doc.get("cost_usd") or 0.0),
        "list_cost_usd": float(doc.get("list_cost_usd") or 0.0),
        **{name: int(usage.get(name) or 0) for name in TOKENS},
    }
    latency = doc.get("latency_ms")
    if isinstance(latency, (int, float)):
        fields[f"latency.{latency_bucket(float(latency))}"] = 1
    return fields


def as_rollup(doc: Doc, sign: int = 1) -> Doc:
    """A raw record in the shape of a `requests_hourly` document (for hours cut by a range's edge);
    `sign` -1 gives the record to take back out of its hour."""
    org_id, project_id, integration, model, hour = _key(doc)
    row: Doc = {"org_id": org_id, "project_id": project_id, "integration": integration, "model": model, "hour": hour}
    latency: dict[str, int] = {}
    for name, value in fields_of(doc).items():
        if name.startswith("latency."):
            latency[name.removeprefix("latency.")] = sign * int(value)
        else:
            row[name] = sign * value
    row["latency"] = latency
    return row


def updates(docs: list[Doc], sign: int) -> list[UpdateOne]:
    """One `$inc` upsert per hour bucket touched by these records (`sign` -1 takes them back)."""
    sums: dict[tuple[str, str, str | None, str, datetime], dict[str, float]] = {}
    for doc in docs:
        inc = sums.setdefault(_key(doc), {})
        for name, value in fields_of(doc).items():
            inc[name] = inc.get(name, 0) + sign * value
    out: list[UpdateOne] = []
    for (org_id, project_id, integration, model, hour), inc in sums.items():
        raw = f"{org_id}\x00{project_id}\x00{integration}\x00{model}\x00{hour.isoformat()}"
        out.append(
            UpdateOne(
                {"_id": hashlib.sha256(raw.encode()).hexdigest()[:32]},
                {
                    "$inc": inc,
                    "$setOnInsert": {
                        "org_id": org_id,
                        "project_id": project_id,
                        "integration": integration,
                        "model": model,
                        "hour": hour,
                    },
                },
                upsert=True,
            )
        )
    return out


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
