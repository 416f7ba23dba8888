"""Events that activity stores: one `RequestFinished` per inference request, `AuditEvent`s."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from shared.messages.base import Msg
from shared.messages.usage import Usage

Outcome = Literal["ok", "denied", "failed"]
StreamOutcome = Literal["complete", "upstream_error", "client_cancelled", "interrupted"]
# a media job answered as a handle: queued/running until `GET /v1/jobs/{id}` sees it end
JobStatus = Literal["queued", "running", "succeeded", "failed"]
GroupBy = Literal["integration", "model", "project", "day"]


class Attempt(Msg, frozen=True, kw_only=True, omit_defaults=False):
    integration: str
    model: str
    status: int = 0
    error_code: str | None = None
    latency_ms: float = 0.0
    provider: str = ""


class RequestFinished(Msg, frozen=True, kw_only=True, omit_defaults=False):
    """Contract section 3. `request_id` becomes the document `_id` (idempotent writes)."""

    request_id: str
    ts: datetime
    org_id: str
    project_id: str
    api_key_id: str
    endpoint: str = "chat.completions"
    integration: str | None = None
    provider: str | None = None
    model_requested: str = ""
    model_served: str | None = None
    virtual_model: str | None = None
    config: str | None = None
    config_version: int | None = None
    attempts: list[Attempt] = []
    status: int = 200
    error_code: str | None = None
    stream: bool = False
    # `interrupted`: the gateway died mid-stream; its spool's replay wrote this record after a restart
    stream_outcome: StreamOutcome | None = None
    # a media job answered as a handle: its record is replaced by the final one (succeeded/failed)
    job_status: JobStatus | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    usage: Usage = msgspec.field(default_factory=Usage)
    cost_usd: float = 0.0  # at the effective price (the org's own terms for the integration)
    list_cost_usd: float = 0.0  # at the catalog (list) price
    byok: bool = True
    trace_id: str | None = None
    content: dict[str, Any] | None = None  # only when the project turned content logging on
    # caches that answered past their TTL because catalog/keyvault was unreachable (stale-if-error):
    # any of "principal", "routing", "credential"
    served_stale: list[str] = []
    # when the key could not be checked (catalog unreachable): the key's public prefix, as listed
    api_key_prefix: str | None = None


class RequestBatch(Msg, frozen=True, kw_only=True):
    """Several `RequestFinished` in one JetStream message (the gateway's publisher groups them):
    each is stored under its own request id, exactly as if it had come alone."""

    events: list[RequestFinished] = []


class AuditEvent(Msg, frozen=True, kw_only=True, omit_defaults=False):
    """Who did what to which integration, credential, key or member. Never a secret value."""

    event_id: str
    ts: datetime
    org_id: str
    actor_id: str  # member id, "operator" (CLI) or "gateway"
    actor_role: str = ""
    action: str  # e.g. credential.create, credential.rotate, credential.denied, credential.decrypt
    target_type: str  # integration | credential | api_key | member | project | kek
    target_id: str
    outcome: Outcome = "ok"
    service: str = ""
    detail: dict[str, str] = {}


def audit_event(
    *,
    org_id: str,
    actor_id: str,
    actor_role: str,
    action: str,
    target_type: str,
    target_id: str,
    outcome: Outcome,
    service: str,
    detail: dict[str, str] | None = None,
) -> AuditEvent:
    """A new audit event with a fresh id and the current time (the one place they are made)."""
    return AuditEvent(
        event_id=f"aud_{secrets.token_hex(12)}",
        ts=datetime.now(UTC),
        org_id=org_id,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        service=service,
        detail=detail or {},
    )


# --- queries (gateway -> activity) -------------------------------------------------------------
class Scope(Msg, frozen=True, kw_only=True):
    """What the caller may see: its org, and either every project (None) or these."""

    org_id: str
    project_ids: list[str] | None = None


class GetRequestRecord(Msg, tag="requests.get", frozen=True, kw_only=True):
    scope: Scope
    request_id: str


class ListRequestRecords(Msg, tag="requests.list", frozen=True, kw_only=True):
    scope: Scope
    integration: str | None = None
    model: str | None = None
    project_id: str | None = None
    api_key_id: str | None = None
    status: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 50


class SummarizeRequests(Msg, tag="requests.summary", frozen=True, kw_only=True):
    scope: Scope
    group_by: GroupBy = "integration"
    since: datetime | None = None
    until: datetime | None = None


class ListAudit(Msg, tag="audit.list", frozen=True, kw_only=True):
    scope: Scope
    cursor: str | None = None
    limit: int = 50


class SeriesRequests(Msg, tag="requests.series", frozen=True, kw_only=True):
    """Per integration and time bucket: requests, errors, cost and list cost, p95 latency (the console's charts)."""

    scope: Scope
    bucket: Literal["hour", "day"] = "hour"
    project_id: str | None = None
    integration: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class RequestsPage(Msg, tag="requests.page", frozen=True, kw_only=True):
    """The console's activity page in one read: a page of records and the charts' series, read side
    by side. Answers `{"records": <list answer> | null, "records_error": {code, message} | null,
    "series": <series answer> | null}`: a refused list (a stale cursor) still gets its charts, and
    charts slower than `charts_within_s` are left out (still computed and cached for the next read)."""

    records: ListRequestRecords
    series: SeriesRequests
    charts_within_s: float = 8.0


ActivityQuery = GetRequestRecord | ListRequestRecords | SummarizeRequests | ListAudit | SeriesRequests | RequestsPage


class ActivityQueryRequest(Msg, frozen=True, kw_only=True):
    query: ActivityQuery


class QueryResult(Msg, tag="result", frozen=True, kw_only=True):
    status: int = 200
    body: msgspec.Raw = msgspec.Raw(b"null")
