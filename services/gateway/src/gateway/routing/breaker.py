"""A circuit breaker per integration: stop sending traffic to an upstream that keeps failing.

closed -> (`threshold` failures among the last `window` outcomes) -> open for `cooldown_s` ->
half-open: one probe is let through; its success closes the circuit (and forgets the history),
its failure opens it again. A flapping upstream (every other call failing) opens it too. An
outcome of a call that started before the circuit opened says nothing about the upstream since,
so it neither closes nor re-opens an open circuit (callers pass `started=breakers.now()`). State is
per gateway process: each replica learns from its own traffic, which is what a breaker needs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Circuit:
    outcomes: deque[bool] = field(default_factory=deque)
    opened_at: float | None = None
    probing_since: float | None = None


class CircuitBreakers:
    def __init__(
        self,
        *,
        threshold: int = 5,
        window: int = 10,
        cooldown_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._window = max(window, threshold)
        self._cooldown = cooldown_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, key: str) -> str:
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock() - circuit.opened_at >= self._cooldown:
            return "half_open"
        return "open"

    def now(self) -> float:
        return self._clock()

    def allow(self, key: str) -> bool:
        """May a request go to `key` now? In half-open state only one probe at a time."""
        state = self.state(key)
        if state == "closed":
            return True
        if state == "open":
            return False
        circuit = self._circuits[key]
        now = self._clock()
        if circuit.probing_since is not None and now - circuit.probing_since < self._cooldown:
            return False  # one probe at a time (a probe that never reported frees up after a cooldown)
        circuit.probing_since = now
        return True

    def success(self, key: str, *, started: float | None = None) -> None:
        circuit = self._circuits.get(key)
        if circuit is None:
            return
        if circuit.opened_at is not None:
            if started is not None and started < circuit.opened_at:
                return  # began before the circuit opened: not a probe

            del self._circuits[key]  # the probe succeeded: close and forget
            return
        self._push(circuit, ok=True)

    def failure(self, key: str, *, started: float | None = None) -> None:
        circuit = self._circuits.setdefault(key, _Circuit())
        if circuit.opened_at is not None and started is not None and started < circuit.opened_at:
            return  # began before the circuit opened: already counted by what opened it
        circuit.probing_since = None
        if circuit.opened_at is not None:
            circuit.opened_at = self._clock()  # a failed probe: open again
            return
        self._push(circuit, ok=False)
        if sum(1 for ok in circuit.outcomes if not ok) >= self._threshold:
            circuit.opened_at = self._clock()

    def _push(self, circuit: _Circuit, *, ok: bool) -> None:
        circuit.outcomes.append(ok)
        while len(circuit.outcomes) > self._window:
            circuit.outcomes.popleft()

    def snapshot(self) -> dict[str, str]:
        return {key: self.state(key) for key in self._circuits}
