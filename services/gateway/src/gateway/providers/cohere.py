"""Cohere v2 chat (providers.md 19), for Cohere itself and custom hosts speaking its format."""

from __future__ import annotations

from typing import ClassVar

from msgspec import UNSET, Struct, UnsetType, field

from gateway.providers.adapter import TranslatedAdapter
from gateway.providers.base import CallOptions, Credential, EmbeddingResult, Target
from gateway.providers.unsupported import NoImages
from gateway.translate.cohere import CohereFormat
from gateway.translate.cohere_wire import CohereUsage
from gateway.translate.common import decode_vendor
from gateway.wire.openai import Embedding, EmbeddingList, EmbeddingRequest
from shared.messages.usage import Usage


class EmbedRequest(Struct, kw_only=True):
    model: str
    texts: list[str]
    input_type: str = "search_document"
    embedding_types: list[str] = field(default_factory=lambda: ["float"])
    output_dimension: int | UnsetType = UNSET


class Vectors(Struct, kw_only=True):
    floats: list[list[float]] = field(default_factory=list, name="float")


class Embedded(Struct, kw_only=True):
    embeddings: Vectors = field(default_factory=Vectors)
    meta: CohereUsage | None = None


class CohereAdapter(TranslatedAdapter, NoImages):
    name: ClassVar[str] = "cohere"
    format = CohereFormat()

    def chat_url(self, target: Target, cred: Credential, stream: bool) -> str:
        del cred, stream
        return target.base_url.rstrip("/") + "/v2/chat"

    async def embed(
        self, body: EmbeddingRequest, target: Target, cred: Credential, opts: CallOptions
    ) -> EmbeddingResult:
        payload = EmbedRequest(
            model=target.model,
            texts=body.texts("Cohere"),
            output_dimension=body.dimensions if isinstance(body.dimensions, int) else UNSET,
        )
        url = target.base_url.rstrip("/") + "/v2/embed"
        raw, headers = await self.exchange(url, payload, cred, target, opts)
        data = decode_vendor(raw, Embedded, self.name)
        billed = data.meta.billed_units if data.meta else None
        tokens = int((billed and billed.input_tokens) or 0)
        usage = Usage(prompt_tokens=tokens, total_tokens=tokens)
        out = EmbeddingList(
            model=target.model,
            data=[Embedding(index=i, embedding=v) for i, v in enumerate(data.embeddings.floats)],
            usage={"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        )
        return EmbeddingResult(body=out, usage=usage, headers=headers)
