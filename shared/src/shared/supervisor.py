"""Keep a stack's children running: a child that exits when nobody asked it to is started again.

Restarts back off exponentially (`initial_backoff_s`, doubling up to `max_backoff_s`; a child that
stayed up for `stable_after_s` starts again from the initial delay). Every exit is logged with its
reason (exit code or signal) and the child's log file; a child that exits `crash_loop` times within
`crash_window_s` is reported as crash-looping on every further exit, never silently retried.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.connection import ChildState
from shared.embedded import Child
from shared.logging import get_logger

log = get_logger("keyrelay.supervisor")


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class _Watch:
    started_at: float
    backoff_s: float
    restarts: int = 0
    last_exit: str = ""
    next_start: float | None = None
    exits: deque[float] = field(default_factory=deque)


@dataclass
class Supervisor:
    children: Mapping[str, Child]
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stable_after_s: float = 30.0
    crash_window_s: float = 60.0
    crash_loop: int = 3
    clock: Callable[[], float] = time.monotonic
    _watches: dict[str, _Watch] = field(default_factory=dict)

    def __post_init__(self) -> None:
        now = self.clock()
        self._watches = {name: _Watch(started_at=now, backoff_s=self.initial_backoff_s) for name in self.children}

    def poll(self) -> bool:
        """Look at every child once; restart what is due. True if any child's state changed."""
        changed = False
        for name, child in self.children.items():
            watch = self._watches[name]
            if watch.next_start is not None:
                if self.clock() >= watch.next_start:
                    self._restart(name, child, watch)
                    changed = True
                continue
            code = None if child.proc is None else child.proc.poll()
            if code is None:
                if self.clock() - watch.started_at >= self.stable_after_s:
                    watch.backoff_s = self.initial_backoff_s
                continue
            self._exited(name, child, watch, code)
            changed = True
        return changed

    def _exited(self, name: str, child: Child, watch: _Watch, code: int) -> None:
        now = self.clock()
        if child.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, signal.SIGKILL)  # what is left of its group (workers) must go too
        watch.last_exit = describe_exit(code)
        watch.exits.append(now)
        while watch.exits and watch.exits[0] < now - self.crash_window_s:
            watch.exits.popleft()
        delay = watch.backoff_s
        watch.backoff_s = min(self.max_backoff_s, watch.backoff_s * 2)
        watch.next_start = now + delay
        fields: dict[str, Any] = {
            "child": name,
            "reason": watch.last_exit,
            "restart_in_s": round(delay, 2),
            "log": str(child.log_path),
        }
        if len(watch.exits) >= self.crash_loop:
            log.error("supervisor.crash_loop", exits=len(watch.exits), window_s=self.crash_window_s, **fields)
        else:
            log.warning("supervisor.child_exited", **fields)

    def _restart(self, name: str, child: Child, watch: _Watch) -> None:
        watch.next_start = None
        watch.restarts += 1
        watch.started_at = self.clock()
        try:
            child.start()
        except OSError as exc:
            log.error("supervisor.restart_failed", child=name, error=type(exc).__name__)  # noqa: TRY400 - no traceback
            self._exited(name, child, watch, 127)
            return
        log.warning(
            "supervisor.restarted",
            child=name,
            pid=child.proc.pid if child.proc else None,
            restarts=watch.restarts,
            after=watch.last_exit,
        )

    def states(self) -> dict[str, ChildState]:
        out = {}
        for name, child in self.children.items():
            watch = self._watches[name]
            out[name] = ChildState(
                pid=child.proc.pid if child.proc is not None else 0,
                state="restarting" if watch.next_start is not None else "running",
                restarts=watch.restarts,
                last_exit=watch.last_exit,
                log=str(child.log_path),
            )
        return out
