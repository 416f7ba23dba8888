"""Google Vertex AI (providers.md 5): service-account OAuth, Gemini and Claude publishers.

URL: `{base}/projects/{project}/locations/{location}/publishers/{google|anthropic}/models/{m}:{method}`.
`base` is `Target.base_url` (host already regional); project comes from `Target.options` or the
key file, location from `Target.options`, else the regional host name, else `us-central1`.
Claude models (`claude-*`) speak the Anthropic format with `anthropic_version` in the body.
A 401 drops the cached token and retries once with a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import ClassVar, TypeVar
from urllib.parse import urlsplit

import aiohttp

from gateway.providers.adapter import TranslatedAdapter
from gateway.providers.anthropic import COUNT_TOKENS_FIELDS, count_tokens_body, input_tokens
from gateway.providers.base import CallOptions, Credential, ProviderError, Target
from gateway.providers.google import bare_model
from gateway.providers.google_auth import AccessTokens
from gateway.providers.http import JSON_HEADERS
from gateway.providers.unsupported import NoEmbeddings, NoImages
from gateway.translate.anthropic import AnthropicFormat
from gateway.translate.format import ChatFormat
from gateway.translate.gemini import GeminiFormat
from gateway.wire.openai import ChatRequest, Json

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
DEFAULT_LOCATION = "us-central1"
R = TypeVar("R")
CLAUDE = AnthropicFormat(version_in_body=VERTEX_ANTHROPIC_VERSION)


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


class VertexAdapter(TranslatedAdapter, NoEmbeddings, NoImages):
    name: ClassVar[str] = "vertex"
    format = GeminiFormat()

    def __init__(self, session: aiohttp.ClientSession, token_url: str | None = None) -> None:
        super().__init__(session)
        self._tokens = AccessTokens(session, self.name, token_url)

    def chat_format(self, target: Target) -> ChatFormat:
        return CLAUDE if is_claude(target.model) else self.format

    def chat_url(self, target: Target, cred: Credential, stream: bool) -> str:
        claude = is_claude(target.model)
        if stream:
            method = "streamRawPredict" if claude else "streamGenerateContent?alt=sse"
        else:
            method = "rawPredict" if claude else "generateContent"
        _, info = self._tokens.account(cred)
        project = target.options.get("project_id") or info.project_id
        if not project:
            raise ProviderError("upstream_auth_failed", "vertex: no project id in the integration or key file")
        publisher = "anthropic" if claude else "google"
        return (
            f"{target.base_url.rstrip('/')}/projects/{project}/locations/{location_of(target)}"
            f"/publishers/{publisher}/models/{bare_model(target.model)}:{method}"
        )

    def counts_tokens(self, model: str) -> bool:
        return is_claude(model)  # Gemini's countTokens speaks another format: those are estimated

    async def count_tokens(self, body: ChatRequest, target: Target, cred: Credential, opts: CallOptions) -> int:
        """Claude's `count-tokens:rawPredict`: the Messages body with `model` kept (providers.md 5.3)."""
        url = self.chat_url(target, cred, False).rsplit("/models/", 1)[0] + "/models/count-tokens:rawPredict"
        claude = CLAUDE.request(body, target.model, stream=False)
        claude.model = target.model
        payload = {**count_tokens_body(claude), "anthropic_version": VERTEX_ANTHROPIC_VERSION}
        raw, _ = await self.exchange(url, payload, cred, target, opts)
        return input_tokens(self.name, raw)

    async def count_messages(self, payload: Json, target: Target, cred: Credential, opts: CallOptions) -> int:
        """Claude's `count-tokens:rawPredict` for a Messages body as it is (the pass-through's)."""
        url = self.chat_url(target, cred, False).rsplit("/models/", 1)[0] + "/models/count-tokens:rawPredict"
        fields = {key: value for key, value in {**payload, "model": target.model}.items() if key in COUNT_TOKENS_FIELDS}
        raw, _ = await self.exchange(url, {**fields, "anthropic_version": VERTEX_ANTHROPIC_VERSION}, cred, target, opts)
        return input_tokens(self.name, raw)

    async def request_headers(self, cred: Credential, target: Target, opts: CallOptions) -> dict[str, str]:
        del target
        out = {**JSON_HEADERS, "authorization": f"Bearer {await self._tokens.token(cred, opts)}"}
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    async def attempt(self, cred: Credential, call: Callable[[], Awaitable[R]]) -> R:
        """Run `call`; after a 401, drop the cached token and run it once more (with a fresh one)."""
        try:
            return await call()
        except ProviderError as exc:
            if exc.upstream_status != HTTPStatus.UNAUTHORIZED:
                raise
        self._tokens.invalidate(cred)
        return await call()
