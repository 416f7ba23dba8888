"""The replay cache remembers ids until they expire and fails closed when full."""

from __future__ import annotations

from keyvault.replay import ReplayCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_id_is_accepted_once_until_it_expires() -> None:
    """A second use before expiry is a replay; after expiry the id is forgotten."""
    clock = Clock()
    cache = ReplayCache(clock=clock)
    assert cache.check("a", 1010.0) == "first_use"
    assert cache.check("a", 1010.0) == "replayed"
    clock.now = 1011.0
    assert cache.check("b", 1020.0) == "first_use"
    assert len(cache) == 1


def test_a_full_cache_refuses_instead_of_forgetting_live_ids() -> None:
    """Bounded memory never turns into an accepted replay."""
    clock = Clock()
    cache = ReplayCache(max_size=2, clock=clock)
    assert cache.check("a", 1010.0) == "first_use"
    assert cache.check("b", 1010.0) == "first_use"
    assert cache.check("c", 1010.0) == "full"
    assert cache.check("a", 1010.0) == "replayed"
    clock.now = 1011.0
    assert cache.check("c", 1020.0) == "first_use"
