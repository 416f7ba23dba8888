"""Bounded polling for queue/task providers (FAL, Pollo): poll until done or the deadline passes.

Whatever happens, the caller gets an answer in time: the finished OpenAI images response, or a
job handle (`{"id", "status": "queued" | "in_progress", "provider"}`) the client can come back for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.wire.openai import Image, ImagesResponse

FIRST_INTERVAL_S = 0.1
MAX_INTERVAL_S = 2.0


@dataclass(slots=True)
class JobState:
    """One poll's verdict: `result` when done, else the job's public status."""

    status: str = "queued"  # queued | in_progress
    result: ImagesResponse | None = None


async def wait_for_job(poll: Callable[[], Awaitable[JobState]], deadline_s: float) -> JobState:
    """Poll with growing intervals until a result comes or `deadline_s` (from now) passes."""
    deadline = time.monotonic() + deadline_s
    interval = FIRST_INTERVAL_S
    state = JobState()
    while True:
        state = await poll()
        if state.result is not None:
            return state
        left = deadline - time.monotonic()
        if left <= 0:
            return state
        await asyncio.sleep(min(interval, left))
        interval = min(interval * 1.5, MAX_INTERVAL_S)


def images_body(urls: list[str]) -> ImagesResponse:
    return ImagesResponse(created=int(time.time()), data=[Image(url=url) for url in urls])


def same_origin(url: object, base_url: str) -> bool:
    """Follow a URL the provider returned only if it is on the base URL's origin (the key goes there)."""
    if not isinstance(url, str):
        return False
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
