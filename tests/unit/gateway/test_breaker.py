"""The circuit breaker per integration: threshold within a window, cooldown, one half-open probe."""

from __future__ import annotations

from gateway.routing.breaker import CircuitBreakers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breakers(clock: Clock, *, threshold: int = 3, window: int = 5, cooldown_s: float = 10.0) -> CircuitBreakers:
    return CircuitBreakers(threshold=threshold, window=window, cooldown_s=cooldown_s, clock=clock)


def fail(b: CircuitBreakers, times: int, key: str = "a") -> None:
    for _ in range(times):
        b.failure(key)


def test_an_integration_without_history_is_closed_and_allowed() -> None:
    b = breakers(Clock())
    assert b.state("a") == "closed"
    assert b.allow("a")
    assert b.snapshot() == {}


def test_the_circuit_opens_when_failures_reach_the_threshold() -> None:
    b = breakers(Clock())
    fail(b, 2)
    assert b.state("a") == "closed"
    fail(b, 1)
    assert b.state("a") == "open"
    assert not b.allow("a")


def test_one_integrations_failures_never_open_another_ones_circuit() -> None:
    b = breakers(Clock())
    fail(b, 3, key="a")
    assert b.allow("b")
    assert b.snapshot() == {"a": "open"}


def test_failures_that_fell_out_of_the_window_no_longer_count() -> None:
    b = breakers(Clock(), threshold=3, window=4)
    for _ in range(4):  # F S S S F S S S ...: never three failures among the last four outcomes
        b.failure("a")
        b.success("a")
        b.success("a")
        b.success("a")
    assert b.state("a") == "closed"


def test_a_flapping_integration_opens_its_circuit_too() -> None:
    b = breakers(Clock(), threshold=3, window=6)
    for outcome in (False, True, False, True, False):  # every other call fails
        (b.success if outcome else b.failure)("a")
    assert b.state("a") == "open"


def test_the_window_is_never_smaller_than_the_threshold() -> None:
    b = breakers(Clock(), threshold=4, window=2)
    fail(b, 4)
    assert b.state("a") == "open"


def test_an_open_circuit_turns_half_open_after_the_cooldown() -> None:
    clock = Clock()
    b = breakers(clock, cooldown_s=10)
    fail(b, 3)
    clock.now += 9.9
    assert b.state("a") == "open"
    clock.now += 0.1
    assert b.state("a") == "half_open"


def test_half_open_lets_exactly_one_probe_through_at_a_time() -> None:
    clock = Clock()
    b = breakers(clock)
    fail(b, 3)
    clock.now += 10
    assert b.allow("a")
    assert not b.allow("a")
    assert not b.allow("a")


def test_a_successful_probe_closes_the_circuit_and_forgets_its_history() -> None:
    clock = Clock()
    b = breakers(clock)
    fail(b, 3)
    clock.now += 10
    assert b.allow("a")
    b.success("a")
    assert b.state("a") == "closed"
    fail(b, 2)  # a fresh count: the failures before the probe are gone
    assert b.state("a") == "closed"


def test_a_failed_probe_opens_the_circuit_for_another_cooldown() -> None:
    clock = Clock()
    b = breakers(clock)
    fail(b, 3)
    clock.now += 10
    assert b.allow("a")
    b.failure("a")
    assert b.state("a") == "open"
    clock.now += 9
    assert not b.allow("a")
    clock.now += 1
    assert b.allow("a")


def test_a_probe_that_never_reports_frees_the_slot_after_a_cooldown() -> None:
    clock = Clock()
    b = breakers(clock)
    fail(b, 3)
    clock.now += 10
    assert b.allow("a")  # this probe's request never comes back
    clock.now += 9
    assert not b.allow("a")
    clock.now += 1
    assert b.allow("a")


def test_successes_on_a_closed_circuit_keep_it_closed() -> None:
    b = breakers(Clock())
    for _ in range(20):
        b.success("a")
    fail(b, 2)
    assert b.state("a") == "closed"


def test_a_success_of_a_call_started_while_open_closes_the_circuit_like_a_probe() -> None:
    """When every circuit is open the proxy tries anyway; a success there closes the circuit."""
    clock = Clock()
    b = breakers(clock)
    fail(b, 3)
    clock.now += 1
    b.success("a", started=b.now())
    assert b.state("a") == "closed"


def test_a_success_of_a_call_started_before_the_circuit_opened_leaves_it_open() -> None:
    clock = Clock()
    b = breakers(clock)
    started = b.now()
    clock.now += 1
    fail(b, 3)
    b.success("a", started=started)
    assert b.state("a") == "open"


def test_a_late_failure_of_a_call_started_before_the_circuit_opened_does_not_extend_the_cooldown() -> None:
    clock = Clock()
    b = breakers(clock)
    started = b.now()
    clock.now += 1
    fail(b, 3)
    clock.now += 9
    b.failure("a", started=started)
    clock.now += 1
    assert b.state("a") == "half_open"
