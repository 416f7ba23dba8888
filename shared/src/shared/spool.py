"""An on-disk journal for events not yet acknowledged by JetStream, so a crash loses none.

Every queued event is appended (one JSON line) to the current segment file; when JetStream
acknowledges events, an ack line naming their positions in the segment is appended too, and a full
segment whose events were all acknowledged is deleted. A process that starts finds the segments
left by a dead one (files it can lock: a live process holds a lock on its own) and takes over only
the events that were never acknowledged: it journals them in its own segment, then deletes the
dead one's files. Republished events carry their original `Nats-Msg-Id`, and activity writes by
event id, so a replay never creates a second record.

A *provisional* event (`unless` set) is journaled but not sent: it stands for an outcome the
process may not live to report (a stream cut by a crash). It is settled (acknowledged) when the
event it waits for (`msg_id == unless`) is queued; a replay sends it only if that event is in none
of the dead process's segments. Lines are flushed to the OS on every append (no fsync: a process
crash is covered, a power cut of the host is not).

The journal is also where events wait that do not fit in the publisher's memory: `read` gives
back, in order and from a position on, the events this process journaled (provisional ones
skipped), so only a bounded window of them needs to be held in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

import msgspec

from shared.logging import get_logger

log = get_logger("keyrelay.spool")


class SpooledEvent(msgspec.Struct, frozen=True, array_like=True):
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str] = {}
    unless: str = ""  # provisional: send only if the event with this msg_id was never queued


class SpoolRef(NamedTuple):
    segment: str
    position: int  # index among the segment's events (ack lines not counted)
    offset: int = 0  # byte offset of the event's line in the segment file


_encoder = msgspec.json.Encoder()
# an ack line: {"acked": [positions (0-based, events only) in this segment JetStream acknowledged]}
_decoder = msgspec.json.Decoder(SpooledEvent | dict[str, list[int]])


@dataclass(slots=True)
class _Segment:
    path: Path
    handle: IO[bytes]
    written: int = 0
    acked: int = 0
    closed: bool = False
    size: int = 0  # bytes written


@dataclass
class SpoolJournal:
    directory: Path
    segment_events: int = 5_000
    _segments: dict[str, _Segment] = field(default_factory=dict)
    _current: str | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def recover(self) -> list[tuple[SpooledEvent, SpoolRef]]:
        """Take over what dead processes left unacknowledged: journaled again here, their files gone.

        Provisional events come back as ordinary ones when the event they waited for is not there.
        """
        pending: list[SpooledEvent] = []
        queued: set[str] = set()
        taken: list[tuple[Path, IO[bytes]]] = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if path.stem in self._segments:
                continue
            handle: IO[bytes] = path.open("rb")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue  # a live process owns it
            taken.append((path, handle))
            events, acked = _read_segment(handle.read())
            queued.update(e.msg_id for e in events if not e.unless)
            pending.extend(e for i, e in enumerate(events) if i not in acked)
        survivors = [
            msgspec.structs.replace(e, unless="") if e.unless else e
            for e in pending
            if not e.unless or e.unless not in queued
        ]
        recovered = [(event, self.append(event)) for event in survivors]
        for path, handle in taken:  # only now: everything they still owed is in our own segment
            path.unlink(missing_ok=True)
            handle.close()
        if taken:
            log.info("spool.recovered", segments=len(taken), events=len(recovered))
        return recovered

    def append(self, event: SpooledEvent) -> SpoolRef:
        segment = self._open_segment()
        ref = SpoolRef(segment.path.stem, segment.written, segment.size)
        self._write(segment, _encoder.encode(event) + b"\n")
        segment.written += 1
        if segment.written >= self.segment_events:
            segment.closed = True
            self._current = None
        return ref

    def ack(self, refs: Iterable[SpoolRef]) -> None:
        """Journal that these events were acknowledged (one line per segment); drop finished segments."""
        by_segment: dict[str, list[int]] = {}
        for ref in refs:
            by_segment.setdefault(ref.segment, []).append(ref.position)
        for segment_id, indexes in by_segment.items():
            segment = self._segments.get(segment_id)
            if segment is None:
                continue
            segment.acked += len(indexes)
            if segment.closed and segment.acked >= segment.written:
                self._remove(segment_id)
                continue
            self._write(segment, _encoder.encode({"acked": indexes}) + b"\n")

    def read(self, start: SpoolRef, limit: int) -> tuple[list[tuple[SpooledEvent, SpoolRef]], SpoolRef]:
        """Up to `limit` events this process journaled, from `start` on, in order (provisional ones
        skipped), and the position the next read starts from."""
        items: list[tuple[SpooledEvent, SpoolRef]] = []
        cursor = start
        for segment_id in sorted(s for s in self._segments if s >= start.segment):
            segment = self._segments[segment_id]
            position, offset = (start.position, start.offset) if segment_id == start.segment else (0, 0)
            with segment.path.open("rb") as handle:
                handle.seek(offset)
                while len(items) < limit:
                    line = handle.readline()
                    if not line.endswith(b"\n"):
                        break  # the end of what was written so far
                    here = SpoolRef(segment_id, position, offset)
                    offset += len(line)
                    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                        item = _decoder.decode(line)
                        if isinstance(item, SpooledEvent):
                            position += 1
                            if not item.unless:
                                items.append((item, here))
            cursor = SpoolRef(segment_id, position, offset)
            if len(items) >= limit:
                break
        return items, cursor

    def close(self, *, all_acked: bool) -> None:
        """At a clean stop: delete segments whose events were all acknowledged, keep the rest."""
        for segment_id, segment in list(self._segments.items()):
            if all_acked or segment.acked >= segment.written:
                self._remove(segment_id)
            else:
                segment.handle.close()

    def _open_segment(self) -> _Segment:
        if self._current is not None:
            return self._segments[self._current]
        segment_id = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"  # names sort by age
        path = self.directory / f"{segment_id}.jsonl"
        handle = path.open("ab")
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._segments[segment_id] = _Segment(path, handle)
        self._current = segment_id
        return self._segments[segment_id]

    @staticmethod
    def _write(segment: _Segment, line: bytes) -> None:
        segment.handle.write(line)
        segment.handle.flush()
        segment.size += len(line)

    def _remove(self, segment_id: str) -> None:
        segment = self._segments.pop(segment_id)
        segment.handle.close()
        segment.path.unlink(missing_ok=True)
        if self._current == segment_id:
            self._current = None


def _read_segment(raw: bytes) -> tuple[list[SpooledEvent], set[int]]:
    """A segment's events in order and the positions acknowledged; a torn last line is skipped."""
    events: list[SpooledEvent] = []
    acked: set[int] = set()
    for line in raw.splitlines():
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            item = _decoder.decode(line)
            if isinstance(item, dict):
                acked.update(item.get("acked", ()))
            else:
                events.append(item)
    return events, acked
