"""The on-disk spool keeps unacknowledged events across a crash and forgets acknowledged segments."""

from __future__ import annotations

from pathlib import Path

from shared.spool import SpooledEvent, SpoolJournal


def event(n: int) -> SpooledEvent:
    return SpooledEvent(
        subject="activity.v1.events.request.finished",
        data=b'{"n": %d}' % n,
        msg_id=f"req_{n}",
        headers={"traceparent": "00-x"},
    )


def test_a_crashed_writers_events_are_recovered_by_the_next_process(tmp_path: Path) -> None:
    """Segments of a dead process (no lock held) are replayed in order, then removed."""
    dead = SpoolJournal(tmp_path)
    for n in range(3):
        dead.append(event(n))
    for segment in dead._segments.values():  # the process dies: its locks go with it
        segment.handle.close()
    survivor = SpoolJournal(tmp_path)
    assert [e.msg_id for e in survivor.recover()] == ["req_0", "req_1", "req_2"]
    assert list(tmp_path.glob("*.jsonl")) == []


def test_a_live_writers_segment_is_left_alone(tmp_path: Path) -> None:
    """A segment still locked by a running process is not stolen by another."""
    live = SpoolJournal(tmp_path)
    live.append(event(1))
    assert SpoolJournal(tmp_path).recover() == []
    assert len(list(tmp_path.glob("*.jsonl"))) == 1


def test_full_segments_disappear_once_every_event_is_acknowledged(tmp_path: Path) -> None:
    """A closed segment whose events were all acknowledged is deleted; unacknowledged ones stay."""
    journal = SpoolJournal(tmp_path, segment_events=2)
    first = [journal.append(event(n)) for n in range(2)]
    journal.append(event(2))
    for segment in first:
        journal.ack(segment)
    assert len(list(tmp_path.glob("*.jsonl"))) == 1


def test_a_torn_last_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    """A crash mid-write leaves half a line; recovery keeps every whole event before it."""
    (tmp_path / "dead-1.jsonl").write_bytes(b'["s",' + b'"e30=","req_1",{}]\n["s","e30=","re')
    assert [e.msg_id for e in SpoolJournal(tmp_path).recover()] == ["req_1"]
