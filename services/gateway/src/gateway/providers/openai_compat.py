"""The shared base of every OpenAI-compatible provider; each vendor module overrides a few hooks.

Hooks (all optional): `auth_headers` (scheme), `url` (path layout), `prepare` (request fix-ups),
`chunk_usage` (where usage sits in a stream chunk), `is_final_chunk` (a terminal chunk other than
`[DONE]`), `normalize_chunk` and `normalize_response` (vendor fields -> OpenAI fields, e.g. the
reasoning text to `reasoning_content`), `response_usage`.

Streams are normalised (providers.md 20.8): chunks without choices (Azure filter results, usage
chunks) and choices without a delta are skipped, the role comes first, one finish per choice,
usage is taken wherever the vendor puts it (the last report wins, so repeats never double count)
and removed from the chunks; `stream_options.include_usage` is always requested upstream.
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp
import msgspec

from gateway.providers.base import (
    CallOptions,
    ChatResult,
    Credential,
    EmbeddingResult,
    ImageResult,
    Target,
)
from gateway.providers.errors import interrupted, map_stream_error, passthrough_headers
from gateway.providers.http import JSON_HEADERS, ProviderStream, decode_json, read_json, send
from gateway.providers.sse import SseEvent
from gateway.translate.common import merge_usage_json, usage_from_openai
from shared.messages.usage import Usage

GATEWAY_FIELDS = ("models",)  # request extras the gateway consumes itself


class OpenAIChunkNormalizer:
    """The `StreamTranslator` for OpenAI-format streams, configured by the adapter's hooks."""

    def __init__(self, adapter: OpenAICompatAdapter) -> None:
        self._adapter = adapter
        self._role_sent = False
        self._finished: set[int] = set()
        self.usage: Usage | None = None
        self.finished = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        data = event.data
        if not data:
            return []
        if data == "[DONE]" or data.strip() == "[DONE]":
            self.finished = True
            return []
        try:
            chunk = decode_json(data)
        except msgspec.DecodeError:
            raise interrupted(self._adapter.name, "malformed stream chunk") from None
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk and not chunk.get("choices"):
            raise map_stream_error(self._adapter.name, chunk)
        usage = self._adapter.chunk_usage(chunk)
        if usage is not None:
            self.usage = usage
        if self._adapter.is_final_chunk(chunk):
            self.finished = True
        chunk = self._adapter.normalize_chunk(chunk)
        chunk.pop("usage", None)
        choices = [c for c in chunk.get("choices") or () if isinstance(c, dict) and self._keep(c)]
        if not choices:
            return []
        chunk["choices"] = choices
        if not self._role_sent:
            self._role_sent = True
            choices[0].setdefault("delta", {}).setdefault("role", "assistant")
        return [chunk]

    def _keep(self, choice: dict[str, Any]) -> bool:
        index = choice.get("index", 0)
        if choice.get("finish_reason") is not None:
            if index in self._finished:
                choice["finish_reason"] = None
            else:
                self._finished.add(index)
        return bool(choice.get("delta")) or choice.get("finish_reason") is not None

    def end(self) -> list[dict[str, Any]]:
        if not self.finished:
            raise interrupted(self._adapter.name, "stream ended without its end marker")
        return []


def rename_reasoning(container: dict[str, Any], field: str) -> None:
    """Move a vendor's reasoning text field to `reasoning_content` (the one outward name)."""
    if field in container:
        value = container.pop(field)
        if value and "reasoning_content" not in container:
            container["reasoning_content"] = value


class OpenAICompatAdapter:
    """OpenAI wire format over Bearer auth; subclasses are one vendor each."""

    name: ClassVar[str] = "openai"
    chat_path: ClassVar[str] = "/chat/completions"
    reasoning_field: ClassVar[str | None] = None  # vendor name of the reasoning text, if not `reasoning_content`
    drop_fields: ClassVar[tuple[str, ...]] = ()  # request fields the vendor rejects

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    # --- hooks ------------------------------------------------------------------------------------
    def auth_headers(self, cred: Credential, target: Target) -> dict[str, str]:
        del target
        return {"authorization": f"Bearer {cred.api_key.reveal()}"} if cred.api_key is not None else {}

    def headers(self, cred: Credential, target: Target) -> dict[str, str]:
        out = {**JSON_HEADERS, **self.auth_headers(cred, target)}
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    def url(self, target: Target, path: str) -> str:
        return target.base_url.rstrip("/") + path

    def prepare(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS and k not in self.drop_fields}
        payload["model"] = target.model
        if stream:
            payload["stream"] = True
            options = payload.get("stream_options")
            payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        else:
            payload.pop("stream", None)
            payload.pop("stream_options", None)
        return payload

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        return usage_from_openai(chunk.get("usage"))

    def is_final_chunk(self, chunk: dict[str, Any]) -> bool:
        del chunk
        return False

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        if self.reasoning_field:
            for choice in chunk.get("choices") or ():
                if isinstance(choice, dict) and isinstance(choice.get("delta"), dict):
                    rename_reasoning(choice["delta"], self.reasoning_field)
        return chunk

    def normalize_response(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.reasoning_field:
            for choice in body.get("choices") or ():
                if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                    rename_reasoning(choice["message"], self.reasoning_field)
        return body

    def response_usage(self, body: dict[str, Any]) -> Usage:
        return usage_from_openai(body.get("usage")) or Usage()

    # --- calls --------------------------------------------------------------------------------------
    async def _call(
        self, path: str, payload: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> tuple[dict[str, Any], dict[str, str]]:
        response = await send(
            self._session,
            self.name,
            "POST",
            self.url(target, path),
            headers=self.headers(cred, target),
            opts=opts,
            payload=payload,
        )
        headers = passthrough_headers(response.headers)
        return await read_json(self.name, response), headers

    async def post(
        self, path: str, payload: object, target: Target, cred: Credential, opts: CallOptions, *, stream: bool = False
    ) -> aiohttp.ClientResponse:
        """POST a body as it is to `path` with this vendor's URL layout and auth (Responses pass-through)."""
        url, headers = self.url(target, path), self.headers(cred, target)
        return await send(
            self._session, self.name, "POST", url, headers=headers, opts=opts, payload=payload, stream=stream
        )

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        data, headers = await self._call(self.chat_path, self.prepare(body, target, False), target, cred, opts)
        usage = self.response_usage(data)
        data = self.normalize_response(data)
        data["usage"] = merge_usage_json(usage, data.get("usage"))
        return ChatResult(body=data, usage=usage, headers=headers)

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream:
        response = await send(
            self._session,
            self.name,
            "POST",
            self.url(target, self.chat_path),
            headers=self.headers(cred, target),
            opts=opts,
            payload=self.prepare(body, target, True),
            stream=True,
        )
        return ProviderStream(self.name, response, self.normalizer(), opts)

    def normalizer(self) -> OpenAIChunkNormalizer:
        """Per-stream state (a vendor may need more than the stateless hooks)."""
        return OpenAIChunkNormalizer(self)

    async def embed(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> EmbeddingResult:
        payload = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
        payload["model"] = target.model
        data, headers = await self._call("/embeddings", payload, target, cred, opts)
        return EmbeddingResult(body=data, usage=self.response_usage(data), headers=headers)

    async def images(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        payload = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
        payload["model"] = target.model
        data, headers = await self._call("/images/generations", payload, target, cred, opts)
        usage = data.get("usage")
        tokens = (
            Usage(
                prompt_tokens=int(usage.get("input_tokens") or 0),
                completion_tokens=int(usage.get("output_tokens") or 0),
            ).finalize()
            if isinstance(usage, dict)
            else Usage()
        )
        return ImageResult(body=data, usage=tokens, headers=headers)
