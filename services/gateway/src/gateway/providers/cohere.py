"""Cohere v2 chat (providers.md 19), for Cohere itself and custom hosts speaking its format."""

from __future__ import annotations

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
from gateway.translate.cohere import CohereStreamTranslator, cohere_to_openai_response, openai_to_cohere_request
from shared.errors import KeyrelayError
from shared.messages.usage import Usage


class CohereAdapter(NoImages):
    name: ClassVar[str] = "cohere"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def headers(self, cred: Credential) -> dict[str, str]:
        out = dict(JSON_HEADERS)
        if cred.api_key is not None:
            out["authorization"] = f"Bearer {cred.api_key.reveal()}"
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    def url(self, target: Target, path: str) -> str:
        return target.base_url.rstrip("/") + path

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        payload = openai_to_cohere_request({**body, "model": target.model, "stream": False})
        response = await send(
            self._session,
            self.name,
            "POST",
            self.url(target, "/v2/chat"),
            headers=self.headers(cred),
            opts=opts,
            payload=payload,
        )
        headers = passthrough_headers(response.headers)
        out, usage = cohere_to_openai_response(await read_json(self.name, response), target.model, self.name)
        return ChatResult(body=out, usage=usage, headers=headers)

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream:
        payload = openai_to_cohere_request({**body, "model": target.model, "stream": True})
        response = await send(
            self._session,
            self.name,
            "POST",
            self.url(target, "/v2/chat"),
            headers=self.headers(cred),
            opts=opts,
            payload=payload,
            stream=True,
        )
        return ProviderStream(self.name, response, CohereStreamTranslator(self.name, target.model), opts)

    async def embed(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> EmbeddingResult:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise KeyrelayError(
                "invalid_request", "Cohere embeddings take a string or a list of strings", param="input"
            )
        payload: dict[str, Any] = {
            "model": target.model,
            "texts": texts,
            "input_type": "search_document",
            "embedding_types": ["float"],
        }
        if isinstance(body.get("dimensions"), int):
            payload["output_dimension"] = body["dimensions"]
        response = await send(
            self._session,
            self.name,
            "POST",
            self.url(target, "/v2/embed"),
            headers=self.headers(cred),
            opts=opts,
            payload=payload,
        )
        headers = passthrough_headers(response.headers)
        data = await read_json(self.name, response)
        vectors = (data.get("embeddings") or {}).get("float") or []
        billed = ((data.get("meta") or {}).get("billed_units") or {}).get("input_tokens") or 0
        usage = Usage(prompt_tokens=int(billed), total_tokens=int(billed))
        out = {
            "object": "list",
            "model": target.model,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        }
        return EmbeddingResult(body=out, usage=usage, headers=headers)
