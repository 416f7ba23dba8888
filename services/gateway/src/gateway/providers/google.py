"""Google AI Studio / Gemini API (providers.md 4): `x-goog-api-key` header (never `?key=`).

`gemini_chat` and `gemini_stream` are shared with Vertex, which differs only in URL and auth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from gateway.providers.base import (
    CallOptions,
    ChatResult,
    Credential,
    EmbeddingResult,
    Target,
)
from gateway.providers.errors import passthrough_headers
from gateway.providers.http import JSON_HEADERS, ProviderStream, read_json, send
from gateway.providers.unsupported import NoImages
from gateway.translate.gemini import GeminiStreamTranslator, gemini_to_openai_response, openai_to_gemini_request
from shared.errors import KeyrelayError
from shared.messages.usage import Usage


async def gemini_chat(
    session: aiohttp.ClientSession,
    provider: str,
    url: str,
    headers: Mapping[str, str],
    body: dict[str, Any],
    model: str,
    opts: CallOptions,
) -> ChatResult:
    response = await send(
        session, provider, "POST", url, headers=headers, opts=opts, payload=openai_to_gemini_request(body)
    )
    passed = passthrough_headers(response.headers)
    data = await read_json(provider, response)
    out, usage = gemini_to_openai_response(data, model, provider)
    return ChatResult(body=out, usage=usage, headers=passed)


async def gemini_stream(
    session: aiohttp.ClientSession,
    provider: str,
    url: str,
    headers: Mapping[str, str],
    body: dict[str, Any],
    model: str,
    opts: CallOptions,
) -> ProviderStream:
    response = await send(
        session, provider, "POST", url, headers=headers, opts=opts, payload=openai_to_gemini_request(body), stream=True
    )
    return ProviderStream(provider, response, GeminiStreamTranslator(provider, model), opts)


def bare_model(model: str) -> str:
    return model.removeprefix("models/")


class GoogleAdapter(NoImages):
    name: ClassVar[str] = "google"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def headers(self, cred: Credential) -> dict[str, str]:
        out = dict(JSON_HEADERS)
        if cred.api_key is not None:
            out["x-goog-api-key"] = cred.api_key.reveal()
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    def url(self, target: Target, action: str) -> str:
        return f"{target.base_url.rstrip('/')}/models/{bare_model(target.model)}:{action}"

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        return await gemini_chat(
            self._session, self.name, self.url(target, "generateContent"), self.headers(cred), body, target.model, opts
        )

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream:
        url = self.url(target, "streamGenerateContent") + "?alt=sse"
        return await gemini_stream(self._session, self.name, url, self.headers(cred), body, target.model, opts)

    async def embed(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> EmbeddingResult:
        """OpenAI embeddings via `batchEmbedContents` (text inputs only; Gemini reports no usage)."""
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise KeyrelayError(
                "invalid_request", "Gemini embeddings take a string or a list of strings", param="input"
            )
        model = f"models/{bare_model(target.model)}"
        request: dict[str, Any] = {"model": model}
        if isinstance(body.get("dimensions"), int):
            request["outputDimensionality"] = body["dimensions"]
        payload = {"requests": [{**request, "content": {"parts": [{"text": t}]}} for t in texts]}
        response = await send(
            self._session,
            self.name,
            "POST",
            self.url(target, "batchEmbedContents"),
            headers=self.headers(cred),
            opts=opts,
            payload=payload,
        )
        headers = passthrough_headers(response.headers)
        data = await read_json(self.name, response)
        vectors = [e.get("values") or [] for e in data.get("embeddings") or []]
        out = {
            "object": "list",
            "model": target.model,
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        }
        return EmbeddingResult(body=out, usage=Usage(), headers=headers)
