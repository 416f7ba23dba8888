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


def die(journal: SpoolJournal) -> None:
    for segment in journal._segments.values():  # the process dies: its locks go with it
        segment.handle.close()


def recovered_ids(journal: SpoolJournal) -> list[str]:
    return [e.msg_id for e, _ in journal.recover()]


def test_a_crashed_writers_events_are_recovered_by_the_next_process(tmp_path: Path) -> None:
    """Segments of a dead process (no lock held) are replayed in order, then removed: the
    survivor keeps what they owed in its own segment until acknowledged."""
    dead = SpoolJournal(tmp_path)
    for n in range(3):
        dead.append(event(n))
    dead_files = set(tmp_path.glob("*.jsonl"))
    die(dead)
    survivor = SpoolJournal(tmp_path)
    recovered = survivor.recover()
    assert [e.msg_id for e, _ in recovered] == ["req_0", "req_1", "req_2"]
    assert dead_files & set(tmp_path.glob("*.jsonl")) == set()
    survivor.ack(ref for _, ref in recovered)
    die(survivor)
    assert SpoolJournal(tmp_path).recover() == []


def test_a_replay_resends_only_what_was_never_acknowledged(tmp_path: Path) -> None:
    """Acknowledged events are journaled as such: a restart replays the rest only, in order."""
    dead = SpoolJournal(tmp_path, segment_events=4)
    refs = [dead.append(event(n)) for n in range(10)]  # three segments: 4 + 4 + 2
    dead.ack([refs[0], refs[2], refs[3]])
    dead.ack(refs[4:8])  # the whole second segment: it is deleted
    dead.ack([refs[9]])
    die(dead)
    assert len(list(tmp_path.glob("*.jsonl"))) == 2
    assert recovered_ids(SpoolJournal(tmp_path)) == ["req_1", "req_8"]


def test_a_provisional_event_is_replayed_only_if_its_real_event_never_came(tmp_path: Path) -> None:
    """A stream's `interrupted` stand-in is sent by the replay only when its record was never queued."""
    dead = SpoolJournal(tmp_path)
    cut = dead.append(SpooledEvent("s", b"cut-stand-in", "req_1.interrupted", unless="req_1"))
    done = dead.append(SpooledEvent("s", b"done-stand-in", "req_2.interrupted", unless="req_2"))
    real = dead.append(SpooledEvent("s", b"real", "req_2"))
    dead.ack([done, real])  # req_2 finished and was acknowledged
    del cut
    racing = dead.append(SpooledEvent("s", b"racing-stand-in", "req_3.interrupted", unless="req_3"))
    dead.append(SpooledEvent("s", b"real-3", "req_3"))  # queued, the process died before voiding the stand-in
    del racing
    die(dead)
    recovered = SpoolJournal(tmp_path).recover()
    assert [(e.msg_id, e.data, e.unless) for e, _ in recovered] == [
        ("req_1.interrupted", b"cut-stand-in", ""),
        ("req_3", b"real-3", ""),
    ]


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
    journal.ack(first)
    assert len(list(tmp_path.glob("*.jsonl"))) == 1


def test_a_torn_last_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    """A crash mid-write leaves half a line; recovery keeps every whole event before it."""
    (tmp_path / "dead-1.jsonl").write_bytes(b'["s",' + b'"e30=","req_1",{}]\n["s","e30=","re')
    assert recovered_ids(SpoolJournal(tmp_path)) == ["req_1"]
