"""Google Vertex AI (providers.md 5): service-account OAuth, Gemini and Claude publishers.

URL: `{base}/projects/{project}/locations/{location}/publishers/{google|anthropic}/models/{m}:{method}`.
`base` is `Target.base_url` (host already regional); project comes from `Target.options` or the
key file, location from `Target.options`, else the regional host name, else `us-central1`.
Claude models (`claude-*`) speak the Anthropic format with `anthropic_version` in the body.
A 401 drops the cached token and retries once with a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import aiohttp

from gateway.providers.anthropic import count_tokens_body, input_tokens
from gateway.providers.base import (
    CallOptions,
    ChatResult,
    Credential,
    ProviderError,
    Target,
)
from gateway.providers.errors import passthrough_headers
from gateway.providers.google import bare_model, gemini_chat, gemini_stream
from gateway.providers.google_auth import AccessTokens
from gateway.providers.http import JSON_HEADERS, ProviderStream, read_json, send
from gateway.providers.unsupported import NoEmbeddings, NoImages
from gateway.translate.anthropic import (
    AnthropicStreamTranslator,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
DEFAULT_LOCATION = "us-central1"
R = TypeVar("R")


def location_of(target: Target) -> str:
    if target.options.get("location"):
        return target.options["location"]
    host = urlsplit(target.base_url).hostname or ""
    if host.endswith("-aiplatform.googleapis.com"):
        return host.removesuffix("-aiplatform.googleapis.com")
    if host == "aiplatform.googleapis.com":
        return "global"
    return DEFAULT_LOCATION


def is_claude(model: str) -> bool:
    return model.startswith("claude-")


class VertexAdapter(NoEmbeddings, NoImages):
    name: ClassVar[str] = "vertex"

    def __init__(self, session: aiohttp.ClientSession, token_url: str | None = None) -> None:
        self._session = session
        self._tokens = AccessTokens(session, self.name, token_url)

    def url(self, target: Target, cred: Credential, method: str) -> str:
        _, info = self._tokens.account(cred)
        project = target.options.get("project_id") or info.project_id
        if not project:
            raise ProviderError("upstream_auth_failed", "vertex: no project id in the integration or key file")
        publisher = "anthropic" if is_claude(target.model) else "google"
        return (
            f"{target.base_url.rstrip('/')}/projects/{project}/locations/{location_of(target)}"
            f"/publishers/{publisher}/models/{bare_model(target.model)}:{method}"
        )

    async def _headers(self, cred: Credential, opts: CallOptions) -> dict[str, str]:
        out = {**JSON_HEADERS, "authorization": f"Bearer {await self._tokens.token(cred, opts)}"}
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    async def _with_refresh(
        self, cred: Credential, opts: CallOptions, call: Callable[[dict[str, str]], Awaitable[R]]
    ) -> R:
        try:
            return await call(await self._headers(cred, opts))
        except ProviderError as exc:
            if exc.upstream_status != 401:
                raise
        self._tokens.invalidate(cred)
        return await call(await self._headers(cred, opts))

    def _claude_payload(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = openai_to_anthropic_request({**body, "model": target.model, "stream": stream})
        payload.pop("model", None)
        if not stream:
            payload.pop("stream", None)
        payload["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
        return payload

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        if not is_claude(target.model):
            url = self.url(target, cred, "generateContent")
            return await self._with_refresh(
                cred, opts, lambda h: gemini_chat(self._session, self.name, url, h, body, target.model, opts)
            )
        url = self.url(target, cred, "rawPredict")
        payload = self._claude_payload(body, target, False)

        async def call(headers: dict[str, str]) -> ChatResult:
            response = await send(self._session, self.name, "POST", url, headers=headers, opts=opts, payload=payload)
            passed = passthrough_headers(response.headers)
            out, usage = anthropic_to_openai_response(await read_json(self.name, response), target.model)
            return ChatResult(body=out, usage=usage, headers=passed)

        return await self._with_refresh(cred, opts, call)

    def counts_tokens(self, model: str) -> bool:
        return is_claude(model)  # Gemini's countTokens speaks another format: those are estimated

    async def count_tokens(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> int:
        """Claude's `count-tokens:rawPredict`: the Messages body with `model` kept (providers.md 5.3)."""
        url = self.url(target, cred, "rawPredict").rsplit("/models/", 1)[0] + "/models/count-tokens:rawPredict"
        payload = count_tokens_body({**self._claude_payload(body, target, False), "model": target.model})
        payload["anthropic_version"] = VERTEX_ANTHROPIC_VERSION

        async def call(headers: dict[str, str]) -> int:
            response = await send(self._session, self.name, "POST", url, headers=headers, opts=opts, payload=payload)
            return input_tokens(self.name, await read_json(self.name, response))

        return await self._with_refresh(cred, opts, call)

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream:
        if not is_claude(target.model):
            url = self.url(target, cred, "streamGenerateContent") + "?alt=sse"
            return await self._with_refresh(
                cred, opts, lambda h: gemini_stream(self._session, self.name, url, h, body, target.model, opts)
            )
        url = self.url(target, cred, "streamRawPredict")
        payload = self._claude_payload(body, target, True)

        async def call(headers: dict[str, str]) -> ProviderStream:
            response = await send(
                self._session, self.name, "POST", url, headers=headers, opts=opts, payload=payload, stream=True
            )
            return ProviderStream(self.name, response, AnthropicStreamTranslator(self.name, target.model), opts)

        return await self._with_refresh(cred, opts, call)
