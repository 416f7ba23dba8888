"""Queue jobs shared by the media fakes (FAL, Pollo): progress by polls, webhook re-delivery."""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tests.fakes.providers.state import FakeState, Job

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Phase(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


def poll(job: Job, state: FakeState) -> Phase:
    """Advance a job by one status poll: queued, then running, then done after N polls."""
    phase = Phase.DONE if job.completed else phase_at(job.polls, state.options.job_polls_to_complete)
    job.polls += 1
    job.completed = job.completed or phase is Phase.DONE
    return phase


def phase_at(polls: int, polls_to_complete: int) -> Phase:
    if polls >= polls_to_complete:
        return Phase.DONE
    return Phase.QUEUED if polls == 0 else Phase.RUNNING


async def deliver_webhook(
    url: str, job: Job, state: FakeState, render: Callable[[Job], tuple[bytes, Mapping[str, str]]]
) -> None:
    """Complete the job after a short delay and POST its result, several times (receivers must dedupe).

    Deliveries only ever go to loopback URLs: tests must never leave 127.0.0.1.
    """
    if urlsplit(url).hostname not in _LOOPBACK:
        return
    await asyncio.sleep(state.options.webhook_delay_s)
    job.completed = True
    async with aiohttp.ClientSession() as session:
        for _ in range(state.options.webhook_deliveries):
            body, headers = render(job)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(url, data=body, headers=dict(headers), timeout=aiohttp.ClientTimeout(5)) as r:
                    await r.read()
            await asyncio.sleep(state.options.webhook_delay_s)
