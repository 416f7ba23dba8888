"""Pollo (providers.md 18): `x-api-key`, submit a generation task, poll its status.

`images()` sends `{"input": {prompt, ...extras}}` to `{base}/generation/{brand}/{model}` and polls
`{base}/generation/{taskId}/status` until every generation succeeded (-> OpenAI images response),
one failed (-> `upstream_error`) or the deadline passed (-> job handle). Answers may come in a
`{code, message, data}` envelope. The task's `credit` becomes `Usage.credits` (priced per credit by
the integration's pricing).
"""

from __future__ import annotations

from typing import ClassVar

from msgspec import Struct, field

from gateway.providers.adapter import HttpAdapter
from gateway.providers.base import CallOptions, Credential, ImageResult, ProviderError, Target, UpstreamJob
from gateway.providers.jobs import JobState, images_body, job_result, job_wait_s, wait_for_job
from gateway.providers.unsupported import NoChat, NoEmbeddings
from gateway.translate.common import decode_vendor
from gateway.wire.openai import ImageRequest, Json
from shared.messages.usage import Usage


class Generation(Struct, kw_only=True):
    status: str | None = None
    url: str | None = None


class Task(Struct, kw_only=True):
    taskId: str = ""  # noqa: N815 - Pollo's name
    generations: list[Generation] = field(default_factory=list)
    credit: float | None = None  # what the task charged, in Pollo credits


class Envelope(Task, kw_only=True):
    data: Task | None = None

    def task(self) -> Task:
        return self.data if self.data is not None else self


class Submission(Struct, kw_only=True):
    input: Json


def task_state(status: Task) -> JobState:
    states = [str(g.status) for g in status.generations]
    usage = Usage(credits=status.credit) if status.credit is not None else None
    if "failed" in states:
        return JobState("failed", usage=usage, failed=True)
    if status.generations and all(s == "succeed" for s in states):
        return JobState("succeeded", images_body([g.url for g in status.generations if g.url]), usage=usage)
    return JobState("running" if "processing" in states else "queued", usage=usage)


class PolloAdapter(HttpAdapter, NoChat, NoEmbeddings):
    name: ClassVar[str] = "pollo"
    auth_header = "x-api-key"
    auth_scheme = ""

    async def images(self, body: ImageRequest, target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        base = target.base_url.rstrip("/")
        url = f"{base}/generation/{target.model.strip('/')}"
        raw, passed = await self.exchange(url, Submission(input=body.model_input()), cred, target, opts)
        task_id = decode_vendor(raw, Envelope, self.name).task().taskId
        if not task_id or "/" in task_id:
            raise ProviderError("upstream_error", "pollo: the task was not accepted")

        job = UpstreamJob(id=task_id)
        state = await wait_for_job(lambda: self.poll_job(job, target, cred, opts), job_wait_s(opts))
        return job_result(self.name, job, state, passed)

    async def poll_job(self, job: UpstreamJob, target: Target, cred: Credential, opts: CallOptions) -> JobState:
        """Poll the task's status once; its `credit` becomes the usage (priced per credit)."""
        if not job.id or "/" in job.id:
            raise ProviderError("upstream_error", "pollo: the task id is not usable")
        status_url = f"{target.base_url.rstrip('/')}/generation/{job.id}/status"
        reply, _ = await self.exchange(status_url, None, cred, target, opts, method="GET")
        return task_state(decode_vendor(reply, Envelope, self.name).task())
