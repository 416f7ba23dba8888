"""A bounded memory of one-time ids (reveal request ids, owner-assertion nonces) until they expire.

When it is full of ids that have not expired yet it refuses new ones (fails closed) instead of
forgetting an id early, which would let that id be replayed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

Verdict = Literal["first_use", "replayed", "full"]


class ReplayCache:
    def __init__(self, max_size: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_size
        self._clock = clock

    def _purge(self, now: float) -> None:
        # Ids arrive in roughly expiry order (expiries are bounded by a short max age).
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if len(self._seen) >= self._max:
            for key in [k for k, expires in self._seen.items() if expires < now]:
                del self._seen[key]

    def check(self, key: str, expires_at: float) -> Verdict:
        """`first_use` (and remember it until `expires_at`), `replayed`, or `full` (refuse for now)."""
        now = self._clock()
        self._purge(now)
        if key in self._seen:
            return "replayed"
        if len(self._seen) >= self._max:
            return "full"
        self._seen[key] = expires_at
        return "first_use"

    def __len__(self) -> int:
        return len(self._seen)
