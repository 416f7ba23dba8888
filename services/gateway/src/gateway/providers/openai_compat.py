"""The shared base of every OpenAI-compatible provider; each vendor module overrides a few hooks.

Hooks (all optional): `auth_headers` (scheme), `url` (path layout), `prepare` (request fix-ups),
`chunk_usage` (where usage sits in a stream chunk), `is_final_chunk` (a terminal chunk other than
`[DONE]`), `normalize_chunk` and `normalize_response` (vendor fields -> OpenAI fields, e.g. the
reasoning text to `reasoning_content`), `response_usage`.

The request goes out as the client sent it (`wire/chat_body.py`: every field at any depth, the
fields nobody touches byte for byte), with the target's model, the stream switches and the
vendor's fix-ups, which `prepare` makes on the payload's own copy of the fields it changes (the
client's body is never mutated, since a failover sends it again elsewhere).

Streams are normalised (providers.md 20.8): chunks without choices (Azure filter results, usage
chunks) and choices without a delta are skipped, the role comes first, one finish per choice,
usage is taken wherever the vendor puts it (the last report wins, so repeats never double count)
and removed from the chunks; `stream_options.include_usage` is always requested upstream. A chunk
that needs none of that (most of them, from a vendor without stream hooks of its own) is decoded
only to be read and passes through as the upstream's bytes (`WireChunk`): no re-encoding.
"""

from __future__ import annotations

from typing import ClassVar

import aiohttp
import msgspec
from msgspec import UNSET

from gateway.providers.adapter import HttpAdapter
from gateway.providers.base import (
    CallOptions,
    ChatResult,
    Credential,
    EmbeddingResult,
    ImageResult,
    Target,
)
from gateway.providers.http import ProviderStream, decode_body, send
from gateway.translate.common import merge_usage_json, usage_from_openai
from gateway.wire.chat_body import ChatInput, ChatPayload
from gateway.wire.errors import interrupted, map_stream_error
from gateway.wire.openai import (
    ChatChunk,
    ChatCompletion,
    ChunkChoice,
    Delta,
    EmbeddingList,
    EmbeddingRequest,
    ImageRequest,
    ImagesResponse,
    ResponseMessage,
    WireChunk,
)
from gateway.wire.sse import SseEvent
from shared.messages.usage import Usage

GATEWAY_FIELDS = ("models",)  # request extras the gateway consumes itself


_wire_chunk = msgspec.json.Decoder(WireChunk)
_STREAM_HOOKS = ("chunk_usage", "is_final_chunk", "normalize_chunk")


class OpenAIChunkNormalizer:
    """The `StreamTranslator` for OpenAI-format streams, configured by the adapter's hooks."""

    def __init__(self, adapter: OpenAICompatAdapter) -> None:
        self._adapter = adapter
        self._role_sent = False
        self._finished: set[int] = set()
        self.usage: Usage | None = None
        self.finished = False
        # chunks may pass through as they came only where no vendor hook or subclass changes them
        self._passthrough = type(self) is OpenAIChunkNormalizer and all(
            getattr(type(adapter), hook) is getattr(OpenAICompatAdapter, hook) for hook in _STREAM_HOOKS
        )

    def feed(self, event: SseEvent) -> list[ChatChunk]:
        data = event.data
        if not data:
            return []
        if data == "[DONE]" or data.strip() == "[DONE]":
            self.finished = True
            return []
        if self._passthrough and "\n" not in data and "\r" not in data:
            untouched = self._untouched(data)
            if untouched is not None:
                return [untouched]
        try:
            chunk = ChatChunk.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise interrupted(self._adapter.name, "malformed stream chunk") from None
        if not chunk.choices and chunk.get_extra("error") is not None:
            raise map_stream_error(self._adapter.name, chunk.extra)
        usage = self._adapter.chunk_usage(chunk)
        if usage is not None:
            self.usage = usage
        if self._adapter.is_final_chunk(chunk):
            self.finished = True
        chunk = self._adapter.normalize_chunk(chunk)
        chunk.usage = UNSET
        chunk.choices = [c for c in chunk.choices if self._keep(c)]
        if not chunk.choices:
            return []
        if not self._role_sent:
            self._role_sent = True
            delta = chunk.choices[0].delta
            if delta.role is UNSET:
                delta.role = "assistant"
        return [chunk]

    def _untouched(self, data: str) -> WireChunk | None:
        """The chunk as it came, if normalising would leave it as it is: choices that each carry a
        delta or a first finish, the role already sent (or in this chunk), no usage, no vendor
        reasoning name. Anything else (or a body the strict decoder refuses) takes the full path."""
        try:
            chunk = _wire_chunk.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if chunk.usage not in (UNSET, None) or not chunk.choices:
            return None
        finishing: list[int] = []
        for choice in chunk.choices:
            if choice.usage is not UNSET or choice.delta.reasoning is not UNSET:
                return None
            if choice.finish_reason is not None:
                if choice.index in self._finished or choice.index in finishing:
                    return None
                finishing.append(choice.index)
            elif choice.delta.is_empty():
                return None
        if not self._role_sent:
            if chunk.choices[0].delta.role is UNSET:
                return None
            self._role_sent = True
        if finishing:
            self._finished.update(finishing)
        if chunk.usage is not UNSET:
            chunk.usage = UNSET
        chunk.wire = data.encode()
        return chunk

    def _keep(self, choice: ChunkChoice) -> bool:
        if choice.finish_reason is not None:
            if choice.index in self._finished:
                choice.finish_reason = None
            else:
                self._finished.add(choice.index)
        return not choice.delta.is_empty() or choice.finish_reason is not None

    def end(self) -> list[ChatChunk]:
        if not self.finished:
            raise interrupted(self._adapter.name, "stream ended without its end marker")
        return []


def rename_reasoning(container: Delta | ResponseMessage) -> None:
    """Move a vendor's `reasoning` text to `reasoning_content` (the one outward name)."""
    value, container.reasoning = container.reasoning, UNSET
    if value and not container.reasoning_content:
        container.reasoning_content = value


class OpenAICompatAdapter(HttpAdapter):
    """OpenAI wire format over Bearer auth; subclasses are one vendor each."""

    name: ClassVar[str] = "openai"
    chat_path: ClassVar[str] = "/chat/completions"
    drop_fields: ClassVar[tuple[str, ...]] = ()  # request fields the vendor rejects

    # --- hooks ------------------------------------------------------------------------------------
    def url(self, target: Target, path: str) -> str:
        return target.base_url.rstrip("/") + path

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        """The body for this vendor: the target's model, the stream switches (usage always asked
        for), without the gateway's own fields and `drop_fields`. Vendors extend it."""
        payload.drop(*GATEWAY_FIELDS, *self.drop_fields)
        payload.set("model", target.model)
        if stream:
            options = payload.get("stream_options")
            payload.set("stream", True)
            payload.set("stream_options", {**(options if isinstance(options, dict) else {}), "include_usage": True})
        else:
            payload.drop("stream", "stream_options")
        return payload

    def chunk_usage(self, chunk: ChatChunk) -> Usage | None:
        return usage_from_openai(chunk.usage)

    def is_final_chunk(self, chunk: ChatChunk) -> bool:
        del chunk
        return False

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        for choice in chunk.choices:
            rename_reasoning(choice.delta)
        return chunk

    def normalize_response(self, body: ChatCompletion) -> ChatCompletion:
        for choice in body.choices:
            rename_reasoning(choice.message)
        return body

    def response_usage(self, usage: object) -> Usage:
        return usage_from_openai(usage) or Usage()

    # --- calls --------------------------------------------------------------------------------------
    async def post(
        self, path: str, payload: object, target: Target, cred: Credential, opts: CallOptions, *, stream: bool = False
    ) -> aiohttp.ClientResponse:
        """POST a body as it is to `path` with this vendor's URL layout and auth (Responses pass-through)."""
        url, headers = self.url(target, path), self.headers(cred, target)
        return await send(
            self._session, self.name, "POST", url, headers=headers, opts=opts, payload=payload, stream=stream
        )

    async def chat(self, body: ChatInput, target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        payload = self.prepare(body.payload(), target, False)
        raw, headers = await self.exchange(self.url(target, self.chat_path), payload.fields, cred, target, opts)
        data = decode_body(self.name, raw, ChatCompletion)
        usage = self.response_usage(data.usage)
        data = self.normalize_response(data)
        data.usage = merge_usage_json(usage, data.usage)
        return ChatResult(body=data, usage=usage, headers=headers)

    async def open_stream(
        self, body: ChatInput, target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream[ChatChunk]:
        payload = self.prepare(body.payload(), target, True)
        response = await self.open(self.url(target, self.chat_path), payload.fields, cred, target, opts)
        return ProviderStream(self.name, response, self.normalizer(), opts)

    def normalizer(self) -> OpenAIChunkNormalizer:
        """Per-stream state (a vendor may need more than the stateless hooks)."""
        return OpenAIChunkNormalizer(self)

    async def embed(
        self, body: EmbeddingRequest, target: Target, cred: Credential, opts: CallOptions
    ) -> EmbeddingResult:
        payload = msgspec.structs.replace(body, model=target.model, models=UNSET)
        raw, headers = await self.exchange(self.url(target, "/embeddings"), payload, cred, target, opts)
        data = decode_body(self.name, raw, EmbeddingList)
        return EmbeddingResult(body=data, usage=self.response_usage(data.usage), headers=headers)

    async def images(self, body: ImageRequest, target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        payload = msgspec.structs.replace(body, model=target.model, models=UNSET)
        raw, headers = await self.exchange(self.url(target, "/images/generations"), payload, cred, target, opts)
        data = decode_body(self.name, raw, ImagesResponse)
        usage = data.usage
        tokens = (
            Usage(
                prompt_tokens=int(usage.get("input_tokens") or 0),
                completion_tokens=int(usage.get("output_tokens") or 0),
            ).finalize()
            if usage
            else Usage()
        )
        return ImageResult(body=data, usage=tokens, headers=headers)
