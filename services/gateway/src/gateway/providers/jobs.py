"""Bounded polling for queue/task providers (FAL, Pollo): poll until done or the deadline passes.

Whatever happens, the caller gets an answer in time: the finished OpenAI images response, or a
job handle (`{"id", "status": "queued" | "running", "provider"}`) the client can come back for with
`GET /v1/jobs/{id}` (`gateway.jobs`): the adapter's `poll_job` polls an `UpstreamJob` once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.providers.base import CallOptions, ImageResult, ProviderError, UpstreamJob
from gateway.wire.openai import Image, ImagesResponse, JobHandle
from shared.messages.usage import Usage

FIRST_INTERVAL_S = 0.1
MAX_INTERVAL_S = 2.0


@dataclass(slots=True)
class JobState:
    """One poll's verdict: `result` when done, `failed` when the job ended in error, else its status."""

    status: str = "queued"  # queued | running | succeeded | failed
    result: ImagesResponse | None = None
    usage: Usage | None = None  # what the job charged (Pollo's credits), once known
    failed: bool = False

    @property
    def ended(self) -> bool:
        return self.result is not None or self.failed


async def wait_for_job(poll: Callable[[], Awaitable[JobState]], deadline_s: float) -> JobState:
    """Poll with growing intervals until a result comes or `deadline_s` (from now) passes."""
    deadline = time.monotonic() + deadline_s
    interval = FIRST_INTERVAL_S
    state = JobState()
    while True:
        state = await poll()
        if state.ended:
            return state
        left = deadline - time.monotonic()
        if left <= 0:
            return state
        await asyncio.sleep(min(interval, left))
        interval = min(interval * 1.5, MAX_INTERVAL_S)


def job_wait_s(opts: CallOptions) -> float:
    """How long to await a job: what the client's `Prefer:` asked (never past the attempt's timeout)."""
    return opts.timeout_s if opts.job_wait_s is None else min(opts.job_wait_s, opts.timeout_s)


def images_body(urls: list[str]) -> ImagesResponse:
    return ImagesResponse(created=int(time.time()), data=[Image(url=url) for url in urls])


def same_origin(url: object, base_url: str) -> bool:
    """Follow a URL the provider returned only if it is on the base URL's origin (the key goes there)."""
    if not isinstance(url, str):
        return False
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def job_result(provider: str, job: UpstreamJob, state: JobState, headers: dict[str, str]) -> ImageResult:
    """The awaited job's answer: its images, a handle when it is still running, or its failure."""
    if state.failed:
        raise ProviderError("upstream_error", f"{provider}: the generation failed")
    if state.result is None:
        handle = JobHandle(id=job.id, status=state.status, provider=provider)
        return ImageResult(body=handle, usage=Usage(), headers=headers, job=job)
    return ImageResult(body=state.result, usage=state.usage or Usage(), headers=headers)
