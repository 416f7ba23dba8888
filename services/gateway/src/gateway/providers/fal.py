"""FAL queue (providers.md 17): `Authorization: Key`, submit -> poll status -> fetch result.

`images()` maps the OpenAI images body to the app's input (`n` -> `num_images`, `size` ->
`image_size`, other fields passed through), submits to `{base}/{owner}/{app}[/{sub}]` and polls
until the result or the deadline (`CallOptions.timeout_s`). Status/result URLs returned by FAL are
followed only on the base URL's origin; otherwise they are built (`{owner}/{app}` only).
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
from gateway.providers.jobs import OPENAI_IMAGE_FIELDS, JobState, images_body, job_handle, same_origin, wait_for_job
from gateway.providers.unsupported import NoChat, NoEmbeddings
from shared.messages.usage import Usage


def fal_input(body: dict[str, Any]) -> dict[str, Any]:
    payload = {k: v for k, v in body.items() if k not in OPENAI_IMAGE_FIELDS}
    if isinstance(body.get("n"), int):
        payload["num_images"] = body["n"]
    size = body.get("size")
    if isinstance(size, str) and "x" in size:
        width, _, height = size.partition("x")
        if width.isdigit() and height.isdigit():
            payload["image_size"] = {"width": int(width), "height": int(height)}
    return payload


def output_urls(output: dict[str, Any]) -> list[str]:
    urls = [str(i["url"]) for i in output.get("images") or [] if isinstance(i, dict) and i.get("url")]
    for key in ("image", "video", "audio"):
        item = output.get(key)
        if isinstance(item, dict) and item.get("url"):
            urls.append(str(item["url"]))
    return urls


class FalAdapter(NoChat, NoEmbeddings):
    name: ClassVar[str] = "fal"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def headers(self, cred: Credential) -> dict[str, str]:
        out = dict(JSON_HEADERS)
        if cred.api_key is not None:
            out["authorization"] = f"Key {cred.api_key.reveal()}"
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    async def images(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        base = target.base_url.rstrip("/")
        app = target.model.strip("/")
        headers = self.headers(cred)
        response = await send(
            self._session, self.name, "POST", f"{base}/{app}", headers=headers, opts=opts, payload=fal_input(body)
        )
        passed = passthrough_headers(response.headers)
        submitted = await read_json(self.name, response)
        request_id = str(submitted.get("request_id", ""))
        if not request_id:
            raise ProviderError("upstream_error", "fal: the queue returned no request id")
        owner_app = "/".join(app.split("/")[:2])
        built = f"{base}/{owner_app}/requests/{request_id}"
        status_url = submitted["status_url"] if same_origin(submitted.get("status_url"), base) else f"{built}/status"
        result_url = submitted["response_url"] if same_origin(submitted.get("response_url"), base) else built

        async def poll() -> JobState:
            status = await self._get(status_url, headers, opts)
            state = str(status.get("status", ""))
            if state != "COMPLETED":
                return JobState("queued" if state == "IN_QUEUE" else "in_progress")
            if status.get("error") or status.get("error_type"):
                raise ProviderError("upstream_error", "fal: the generation failed")
            return JobState("completed", await self._get(result_url, headers, opts))

        state = await wait_for_job(poll, opts.timeout_s)
        if state.result is None:
            return ImageResult(body=job_handle(request_id, state.status, self.name), usage=Usage(), headers=passed)
        return ImageResult(body=images_body(output_urls(state.result)), usage=Usage(), headers=passed)

    async def _get(self, url: str, headers: dict[str, str], opts: CallOptions) -> dict[str, Any]:
        response = await send(self._session, self.name, "GET", url, headers=headers, opts=opts)
        return await read_json(self.name, response)
