"""An on-disk journal for events not yet acknowledged by JetStream, so a crash loses none.

Every queued event is appended (one JSON line) to the current segment file; when JetStream
acknowledges it, its segment's count goes down, and a full segment whose events were all
acknowledged is deleted. A process that starts finds the segments left by a dead one (files it
can lock: a live process holds a lock on its own), replays their events and removes them; the
republished events carry their original `Nats-Msg-Id`, and activity writes by event id, so a
replay never creates a second record. Lines are flushed to the OS on every append (no fsync: a
process crash is covered, a power cut of the host is not).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgspec

from shared.logging import get_logger

log = get_logger("keyrelay.spool")


class SpooledEvent(msgspec.Struct, frozen=True, array_like=True):
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str] = {}


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SpooledEvent)


@dataclass(slots=True)
class _Segment:
    path: Path
    handle: IO[bytes]
    written: int = 0
    acked: int = 0
    closed: bool = False


@dataclass
class SpoolJournal:
    directory: Path
    segment_events: int = 5_000
    _segments: dict[str, _Segment] = field(default_factory=dict)
    _current: str | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def recover(self) -> list[SpooledEvent]:
        """Events left by processes that died before JetStream acknowledged them (their files go)."""
        events: list[SpooledEvent] = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if path.stem in self._segments:
                continue
            with path.open("rb") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process owns it
                for line in handle.read().splitlines():
                    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                        events.append(_decoder.decode(line))  # a torn last line is skipped
            path.unlink(missing_ok=True)
        if events:
            log.info("spool.recovered", events=len(events))
        return events

    def append(self, event: SpooledEvent) -> str:
        segment = self._open_segment()
        segment.handle.write(_encoder.encode(event) + b"\n")
        segment.handle.flush()
        segment.written += 1
        if segment.written >= self.segment_events:
            segment.closed = True
            self._current = None
        return segment.path.stem

    def ack(self, segment_id: str) -> None:
        segment = self._segments.get(segment_id)
        if segment is None:
            return
        segment.acked += 1
        if segment.closed and segment.acked >= segment.written:
            self._remove(segment_id)

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
        segment_id = f"{os.getpid()}-{secrets.token_hex(6)}"
        path = self.directory / f"{segment_id}.jsonl"
        handle = path.open("ab")
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._segments[segment_id] = _Segment(path, handle)
        self._current = segment_id
        return self._segments[segment_id]

    def _remove(self, segment_id: str) -> None:
        segment = self._segments.pop(segment_id)
        segment.handle.close()
        segment.path.unlink(missing_ok=True)
        if self._current == segment_id:
            self._current = None
