"""Edge helpers shared by the inference handlers: request ids, API-key auth, JSON bodies, headers."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request
from litestar.connection import ASGIConnection

from gateway import metrics
from gateway.api.body import json_object
from gateway.api.state import GatewayState
from gateway.cache import track_stale
from gateway.recorder import RequestRecord, unauthenticated
from shared import tracing
from shared.errors import KeyrelayError
from shared.tokens import new_id


def bearer(request: ASGIConnection[Any, Any, Any, Any], *, allow_x_api_key: bool = True) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    if allow_x_api_key:
        key = request.headers.get("x-api-key", "").strip()
        if key:
            return key
    raise KeyrelayError("unauthorized", "missing API key: send Authorization: Bearer <key>")


def request_id(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The request's id, made on first use and bound (with the W3C trace) into logs and every NATS
    message that follows."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    existing: str | None = state.get("request_id")
    if existing:
        return existing
    rid = new_id("req")
    state["request_id"] = rid
    state["served_stale"] = track_stale()
    structlog.contextvars.clear_contextvars()
    state["trace_id"] = tracing.start(request.headers.get("traceparent"), rid)
    return rid


def trace_id(request: Request[Any, Any, Any]) -> str | None:
    trace: str | None = request.scope.get("state", {}).get("trace_id")
    return trace


async def begin(
    request: Request[Any, Any, Any], state: GatewayState, endpoint: str
) -> tuple[RequestRecord, dict[str, Any]]:
    """Authenticate the key, parse the body and open the request's activity record.

    From here on every outcome is recorded once: a key that could not be checked because catalog
    is unreachable gets a record with what is known; a missing or unknown key (401) gets none, so
    unauthenticated traffic cannot write to the activity store.
    """
    rid = request_id(request)  # first: it opens the request's state (trace, served_stale)
    served_stale: list[str] = request.scope["state"]["served_stale"]
    record = RequestRecord(request_id=rid, endpoint=endpoint, trace_id=trace_id(request), served_stale=served_stale)
    raw_key = bearer(request)
    try:
        record.principal = principal = await state.catalog.api_key(raw_key)
    except KeyrelayError as exc:
        if exc.status < 500:
            metrics.AUTH_REFUSED.inc()
            raise
        known = state.catalog.last_known_key(raw_key)
        state.recorder.record(unauthenticated(record, raw_key, known, status=exc.status, error_code=exc.code))
        raise
    structlog.contextvars.bind_contextvars(org_id=principal.org_id, project_id=principal.project_id)
    try:
        await state.limits.admit(principal)
        body, record.model_requested = await _body_and_model(request)
    except KeyrelayError as exc:
        state.recorder.finish(record, status=exc.status, error_code=exc.code)
        raise
    record.capture_request(body)
    return record, body


async def _body_and_model(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], str]:
    body = await json_object(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise KeyrelayError("invalid_model", "model is required", param="model")
    return body, model


def response_headers(record: RequestRecord, upstream: dict[str, str] | None = None) -> dict[str, str]:
    headers = {k: v for k, v in (upstream or {}).items() if k.startswith("x-ratelimit-") or k == "retry-after"}
    headers["x-request-id"] = record.request_id
    headers["x-keyrelay-attempts"] = str(len(record.attempts))
    if record.served is not None:
        headers["x-keyrelay-integration"] = record.served.slug
        headers["x-keyrelay-model"] = record.served.model
    return headers
