"""W3C trace context carried through every hop: HTTP edge -> NATS headers -> services' logs.

The edge accepts a client's `traceparent` (or starts a new trace), binds `trace_id` and
`request_id` into the log context, and every bus request and published event carries them as
NATS headers; responders bind them again before handling, so one grep follows a request
across services.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Mapping

import structlog

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("keyrelay_trace", default=None)


def parse(traceparent: str | None) -> str | None:
    """The trace id of a valid `traceparent`, else None (all-zero ids are invalid)."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if not match or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return match.group(1)


def start(traceparent: str | None, request_id: str) -> str:
    """Continue the client's trace (or start one) with a new span id; returns the trace id."""
    trace_id = parse(traceparent) or secrets.token_hex(16)
    header = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    _current.set({"traceparent": header, "x-request-id": request_id})
    structlog.contextvars.bind_contextvars(trace_id=trace_id, request_id=request_id)
    return trace_id


def headers() -> dict[str, str]:
    """Headers to put on an outgoing NATS message (empty outside a traced request)."""
    return dict(_current.get() or {})


def forget() -> None:
    """Drop the previous message's trace (log context and outgoing headers): a responder calls it per message."""
    structlog.contextvars.clear_contextvars()
    _current.set(None)


def adopt(incoming: Mapping[str, str] | None) -> None:
    """Bind the trace of an incoming NATS message into this task's log context."""
    if not incoming:
        return
    trace_id = parse(incoming.get("traceparent"))
    bound: dict[str, str] = {}
    if trace_id:
        bound["trace_id"] = trace_id
    if incoming.get("x-request-id"):
        bound["request_id"] = incoming["x-request-id"][:64]
    if bound:
        structlog.contextvars.bind_contextvars(**bound)
        _current.set({k: v for k, v in incoming.items() if k in ("traceparent", "x-request-id")})
