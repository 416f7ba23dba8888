"""Pollo (providers.md 18): `x-api-key`, submit a generation task, poll its status.

`images()` sends `{"input": {prompt, ...extras}}` to `{base}/generation/{brand}/{model}` and polls
`{base}/generation/{taskId}/status` until every generation succeeded (-> OpenAI images response),
one failed (-> `upstream_error`) or the deadline passed (-> job handle).
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from gateway.providers.base import (
    CallOptions,
    Credential,
    ImageResult,
    ProviderError,
    Target,
)
from gateway.providers.errors import passthrough_headers
from gateway.providers.http import JSON_HEADERS, read_json, send
from gateway.providers.jobs import OPENAI_IMAGE_FIELDS, JobState, images_body, job_handle, wait_for_job
from gateway.providers.unsupported import NoChat, NoEmbeddings
from shared.messages.usage import Usage


def unwrap(body: dict[str, Any]) -> dict[str, Any]:
    """Some answers come in a `{code, message, data}` envelope."""
    data = body.get("data")
    return data if isinstance(data, dict) else body


def task_state(status: dict[str, Any]) -> JobState:
    generations = [g for g in status.get("generations") or [] if isinstance(g, dict)]
    states = [str(g.get("status")) for g in generations]
    if "failed" in states:
        raise ProviderError("upstream_error", "pollo: the generation failed")
    if generations and all(s == "succeed" for s in states):
        return JobState("completed", images_body([str(g.get("url")) for g in generations if g.get("url")]))
    return JobState("in_progress" if "processing" in states else "queued")


class PolloAdapter(NoChat, NoEmbeddings):
    name: ClassVar[str] = "pollo"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def headers(self, cred: Credential) -> dict[str, str]:
        out = dict(JSON_HEADERS)
        if cred.api_key is not None:
            out["x-api-key"] = cred.api_key.reveal()
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    async def images(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        base = target.base_url.rstrip("/")
        headers = self.headers(cred)
        task_input = {k: v for k, v in body.items() if k not in OPENAI_IMAGE_FIELDS}
        response = await send(
            self._session,
            self.name,
            "POST",
            f"{base}/generation/{target.model.strip('/')}",
            headers=headers,
            opts=opts,
            payload={"input": task_input},
        )
        passed = passthrough_headers(response.headers)
        task_id = str(unwrap(await read_json(self.name, response)).get("taskId", ""))
        if not task_id or "/" in task_id:
            raise ProviderError("upstream_error", "pollo: the task was not accepted")

        async def poll() -> JobState:
            reply = await send(
                self._session, self.name, "GET", f"{base}/generation/{task_id}/status", headers=headers, opts=opts
            )
            return task_state(unwrap(await read_json(self.name, reply)))

        state = await wait_for_job(poll, opts.timeout_s)
        if state.result is None:
            return ImageResult(body=job_handle(task_id, state.status, self.name), usage=Usage(), headers=passed)
        return ImageResult(body=state.result, usage=Usage(), headers=passed)
