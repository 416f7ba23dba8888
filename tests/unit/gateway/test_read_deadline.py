"""`ReadDeadline`: a limit on each read of a stream with one lazy timer, behaving like `asyncio.timeout`."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.read_deadline import ReadDeadline


async def assert_a_long_read_times_out_soon(deadline: ReadDeadline) -> None:
    """A 5 s read under a 0.05 s limit raises TimeoutError well within a second."""
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        with deadline.limit(0.05):
            await asyncio.sleep(5)
    assert time.monotonic() - started < 1


async def test_a_read_that_outlasts_its_limit_raises_timeout_error() -> None:
    deadline = ReadDeadline()
    await assert_a_long_read_times_out_soon(deadline)
    deadline.close()


async def test_time_between_reads_does_not_count_against_the_next_read() -> None:
    deadline = ReadDeadline()
    for _ in range(3):
        with deadline.limit(0.1):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.15)  # the consumer's time: longer than the limit, never counted
    deadline.close()


async def test_a_shorter_limit_than_the_armed_one_still_ends_the_read_in_time() -> None:
    deadline = ReadDeadline()
    with deadline.limit(60):
        await asyncio.sleep(0)
    await assert_a_long_read_times_out_soon(deadline)
    deadline.close()


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    deadline = ReadDeadline()

    async def read() -> None:
        with deadline.limit(60):
            await asyncio.sleep(5)

    task = asyncio.create_task(read())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline.close()


async def test_a_closed_deadline_holds_no_timer() -> None:
    deadline = ReadDeadline()
    with deadline.limit(60):
        await asyncio.sleep(0)
    deadline.close()
    assert deadline._handle is None  # the timer would keep the task alive for a minute
