"""Server-sent events written the hard way: split mid-line and mid-UTF-8, with comment lines.

A family builds a `StreamPlan` (its events, how many trailing events form the end marker, and
what a malformed or mid-stream error event looks like); `send_stream` applies the stream faults.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from tests.fakes.providers.faults import FaultKind, Faults, close_connection, hang_forever

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tests.fakes.providers.state import FakeState


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: bytes
    event: str | None = None
    comment: bool = False

    @classmethod
    def of(cls, payload: Any, event: str | None = None) -> SseEvent:
        return cls(msgspec.json.encode(payload), event)

    def encode(self) -> bytes:
        if self.comment:
            return b": " + self.data + b"\n\n"
        head = f"event: {self.event}\n".encode() if self.event else b""
        return head + b"data: " + self.data + b"\n\n"


KEEP_ALIVE = SseEvent(b"keep-alive", comment=True)
DONE = SseEvent(b"[DONE]")


@dataclass(frozen=True, slots=True)
class StreamPlan:
    events: Sequence[SseEvent]
    end_events: int  # trailing events that make the end marker (dropped by fault-no-done)
    malformed: SseEvent  # inserted by fault-malformed
    error: SseEvent | None = None  # sent by fault-midstream-error, then the stream ends


def split_awkwardly(blob: bytes) -> tuple[bytes, bytes]:
    """Cut inside the first multi-byte UTF-8 sequence if there is one, else in the middle."""
    for i, byte in enumerate(blob):
        if 0x80 <= byte < 0xC0:
            return blob[:i], blob[i:]
    mid = len(blob) // 2
    return blob[:mid], blob[mid:]


def awkward_writes(blobs: Sequence[bytes]) -> list[bytes]:
    """Write boundaries fall inside events: the tail of one event travels with the head of the next."""
    writes: list[bytes] = []
    carry = b""
    for blob in blobs:
        head, tail = split_awkwardly(blob)
        writes.append(carry + head)
        carry = tail
    writes.append(carry)
    return [w for w in writes if w]


def _select(plan: StreamPlan, faults: Faults) -> tuple[list[SseEvent], bool]:
    """The events to send and whether the body is then cut off (connection closed, no end)."""
    events = list(plan.events)
    body_end = len(events) - plan.end_events
    if FaultKind.NO_DONE in faults:
        events = events[:body_end]
    if FaultKind.MALFORMED in faults:
        events.insert(min(2, len(events)), plan.malformed)
    if FaultKind.MIDSTREAM_ERROR in faults and plan.error is not None:
        return [*events[: min(3, body_end)], plan.error], False
    if FaultKind.CUT in faults:
        return events[: min(faults.cut_after, body_end)], True
    if FaultKind.STALL in faults:
        return events[: min(2, body_end)], False
    return events, False


async def send_stream(
    request: web.Request, plan: StreamPlan, faults: Faults, state: FakeState, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Stream the plan as SSE, honouring cut/stall/malformed/no-done/midstream-error faults."""
    events, cut = _select(plan, faults)
    if len(events) > 1:
        events.insert(1, KEEP_ALIVE)
    resp = web.StreamResponse(status=200, headers={"cache-control": "no-cache", **headers})
    resp.content_type = "text/event-stream"
    resp.charset = "utf-8"
    await resp.prepare(request)
    try:
        for piece in awkward_writes([event.encode() for event in events]):
            await resp.write(piece)
            await asyncio.sleep(state.options.write_delay_s)
    except ConnectionError:
        return resp
    if cut:
        await close_connection(request)
    if FaultKind.STALL in faults:
        await hang_forever()
    await resp.write_eof()
    return resp
