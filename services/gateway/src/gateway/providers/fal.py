"""FAL queue (providers.md 17): `Authorization: Key`, submit -> poll status -> fetch result.

`images()` maps the OpenAI images body to the app's input (`n` -> `num_images`, `size` ->
`image_size`, the prompt and every untyped field passed through), submits to
`{base}/{owner}/{app}[/{sub}]` and polls until the result or the deadline (`CallOptions.timeout_s`).
Status/result URLs returned by FAL are followed only on the base URL's origin; otherwise they are
built (`{owner}/{app}` only).
"""

from __future__ import annotations

from typing import ClassVar

from msgspec import Struct, field

from gateway.providers.adapter import HttpAdapter
from gateway.providers.base import CallOptions, Credential, ImageResult, ProviderError, Target, UpstreamJob
from gateway.providers.jobs import JobState, images_body, job_result, job_wait_s, same_origin, wait_for_job
from gateway.providers.unsupported import NoChat, NoEmbeddings
from gateway.translate.common import decode_vendor
from gateway.wire.openai import ImageRequest, Json
from shared.messages.usage import Usage


class Submitted(Struct, kw_only=True):
    request_id: str = ""
    status_url: str | None = None
    response_url: str | None = None


class Status(Struct, kw_only=True):
    status: str = ""
    error: object = None
    error_type: object = None


class File(Struct, kw_only=True):
    url: str | None = None


class Output(Struct, kw_only=True):
    images: list[File] = field(default_factory=list)
    image: File | None = None
    video: File | None = None
    audio: File | None = None

    def urls(self) -> list[str]:
        files = [*self.images, self.image, self.video, self.audio]
        return [f.url for f in files if f is not None and f.url]


def fal_input(body: ImageRequest) -> Json:
    payload = body.model_input()
    if isinstance(body.n, int):
        payload["num_images"] = body.n
    if isinstance(body.size, str) and "x" in body.size:
        width, _, height = body.size.partition("x")
        if width.isdigit() and height.isdigit():
            payload["image_size"] = {"width": int(width), "height": int(height)}
    return payload


class FalAdapter(HttpAdapter, NoChat, NoEmbeddings):
    name: ClassVar[str] = "fal"
    auth_scheme = "Key"

    async def images(self, body: ImageRequest, target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        base = target.base_url.rstrip("/")
        app = target.model.strip("/")
        headers = self.headers(cred, target)
        raw, passed = await self.exchange(f"{base}/{app}", fal_input(body), cred, target, opts, headers=headers)
        submitted = decode_vendor(raw, Submitted, self.name)
        request_id = submitted.request_id
        if not request_id:
            raise ProviderError("upstream_error", "fal: the queue returned no request id")
        owner_app = "/".join(app.split("/")[:2])
        built = f"{base}/{owner_app}/requests/{request_id}"
        job = UpstreamJob(
            id=request_id,
            status_url=submitted.status_url if same_origin(submitted.status_url, base) else f"{built}/status",
            result_url=submitted.response_url if same_origin(submitted.response_url, base) else built,
        )
        state = await wait_for_job(lambda: self.poll_job(job, target, cred, opts), job_wait_s(opts))
        return job_result(self.name, job, state, passed)

    async def poll_job(self, job: UpstreamJob, target: Target, cred: Credential, opts: CallOptions) -> JobState:
        """Poll the queue once; on completion fetch the result (URLs only on the base URL's origin)."""
        base = target.base_url.rstrip("/")
        headers = self.headers(cred, target)

        async def get(url: str | None) -> bytes:
            if not same_origin(url, base):
                raise ProviderError("upstream_error", "fal: the job's URL is not on the integration's host")
            raw, _ = await self.exchange(str(url), None, cred, target, opts, method="GET", headers=headers)
            return raw

        status = decode_vendor(await get(job.status_url), Status, self.name)
        if status.status != "COMPLETED":
            return JobState("queued" if status.status == "IN_QUEUE" else "running")
        if status.error or status.error_type:
            return JobState("failed", failed=True)
        output = decode_vendor(await get(job.result_url), Output, self.name)
        return JobState("succeeded", images_body(output.urls()), usage=Usage())
