"""A time limit on each read of a stream, without a timer per read.

`asyncio.timeout` around every read of a stream makes and cancels one timer per chunk (two per
chunk once the relay guards its reads too): a visible share of a stream's CPU. Here one timer per
stream is re-armed lazily: a read only notes when it must end; the timer, when it fires, looks
whether the read now waiting is past its limit and, if so, cancels the task the way
`asyncio.timeout` does (the read raises `TimeoutError`); otherwise it re-arms for that read's
limit, or stays off until the next read (a read with a shorter limit than the armed one re-arms
it sooner). Time spent between reads (the consumer writing to a slow
client) never counts.

    deadline = ReadDeadline()
    try:
        with deadline.limit(5.0):
            data = await read()
    finally:
        deadline.close()
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from types import TracebackType


class ReadDeadline:
    __slots__ = ("_cancelling", "_due", "_expired", "_handle", "_loop", "_task")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due: float | None = None  # when the read now waiting must end; None between reads
        self._expired = False
        self._cancelling = 0

    def limit(self, seconds: float) -> Self:
        """The next read (the `with` block) ends within `seconds`, else raises `TimeoutError`."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)  # given the loop: no running-loop lookup (a getpid() system call each)
        if task is not self._task:
            self._task = task
        self._cancelling = task.cancelling() if task is not None else 0
        due = self._due = loop.time() + seconds
        handle = self._handle
        if handle is None or due < handle.when():  # a shorter limit than the armed one: re-arm sooner
            if handle is not None:
                handle.cancel()
            self._handle = loop.call_at(due, self._fire)
        return self

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._due = None
        if self._expired:
            self._expired = False
            task = self._task
            if exc_type is asyncio.CancelledError and task is not None and task.uncancel() <= self._cancelling:
                raise TimeoutError from exc

    def _fire(self) -> None:
        self._handle = None
        due, loop = self._due, self._loop
        if due is None or loop is None or self._task is None:
            return  # between reads: the next read arms the timer again
        if loop.time() < due:  # a later read than the one the timer was armed for
            self._handle = loop.call_at(due, self._fire)
            return
        self._expired = True
        self._task.cancel()

    def close(self) -> None:
        """The stream is over: drop the timer (it holds the task)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._due = None
        self._task = None
