"""The supervisor's restart policy, on real child processes: backoff, reasons, crash loops."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from shared.embedded import Child, stop_all
from shared.supervisor import Supervisor, describe_exit


def _poll_until(supervisor: Supervisor, events: list[dict[str, Any]], exits: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(e["event"] != "supervisor.restarted" for e in events) < exits:
        assert time.monotonic() < deadline, events
        supervisor.poll()
        time.sleep(0.01)


def test_a_child_that_keeps_exiting_is_restarted_with_growing_delays_and_reported_as_crash_looping(
    tmp_path: Path,
) -> None:
    child = Child("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path / "flaky.log").start()
    supervisor = Supervisor({"flaky": child}, initial_backoff_s=0.05, max_backoff_s=0.2, crash_loop=3)
    with capture_logs() as events:
        _poll_until(supervisor, events, exits=4)
    exits = [e for e in events if e["event"] != "supervisor.restarted"]
    assert [e["event"] for e in exits] == [
        "supervisor.child_exited",
        "supervisor.child_exited",
        "supervisor.crash_loop",
        "supervisor.crash_loop",
    ]
    assert [e["restart_in_s"] for e in exits] == [0.05, 0.1, 0.2, 0.2]
    assert all(e["reason"] == "exited with code 3" and e["log"].endswith("flaky.log") for e in exits)
    assert exits[-1]["exits"] == 4
    assert supervisor.states()["flaky"].restarts == 3
    stop_all([child], 5)


def test_a_child_that_stays_up_is_left_alone(tmp_path: Path) -> None:
    child = Child("steady", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "steady.log").start()
    supervisor = Supervisor({"steady": child})
    try:
        with capture_logs() as events:
            for _ in range(10):
                assert not supervisor.poll()
                time.sleep(0.01)
        assert events == []
        state = supervisor.states()["steady"]
        assert (state.state, state.restarts, state.pid) == ("running", 0, child.proc.pid if child.proc else 0)
    finally:
        stop_all([child], 5)
    assert not child.running


def test_exit_reasons_name_the_signal_or_the_code() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(2) == "exited with code 2"
