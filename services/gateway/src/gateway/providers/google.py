"""Google AI Studio / Gemini API (providers.md 4): `x-goog-api-key` header (never `?key=`)."""

from __future__ import annotations

from typing import ClassVar

from msgspec import UNSET, Struct, UnsetType, field

from gateway.providers.adapter import TranslatedAdapter
from gateway.providers.base import CallOptions, Credential, EmbeddingResult, Target
from gateway.providers.unsupported import NoImages
from gateway.translate.common import decode_vendor
from gateway.translate.gemini import GeminiFormat
from gateway.translate.gemini_wire import Content, Part, Wire
from gateway.wire.openai import Embedding, EmbeddingList, EmbeddingRequest
from shared.messages.usage import Usage


class EmbedContent(Wire):
    model: str
    content: Content
    output_dimensionality: int | UnsetType = UNSET


class BatchEmbed(Struct, kw_only=True):
    requests: list[EmbedContent]


class Values(Struct, kw_only=True):
    values: list[float] = field(default_factory=list)


class BatchEmbedded(Struct, kw_only=True):
    embeddings: list[Values] = field(default_factory=list)


def bare_model(model: str) -> str:
    return model.removeprefix("models/")


class GoogleAdapter(TranslatedAdapter, NoImages):
    name: ClassVar[str] = "google"
    format = GeminiFormat()
    auth_header = "x-goog-api-key"
    auth_scheme = ""

    def url(self, target: Target, action: str) -> str:
        return f"{target.base_url.rstrip('/')}/models/{bare_model(target.model)}:{action}"

    def chat_url(self, target: Target, cred: Credential, stream: bool) -> str:
        del cred
        return self.url(target, "streamGenerateContent") + "?alt=sse" if stream else self.url(target, "generateContent")

    async def embed(
        self, body: EmbeddingRequest, target: Target, cred: Credential, opts: CallOptions
    ) -> EmbeddingResult:
        """OpenAI embeddings via `batchEmbedContents` (text inputs only; Gemini reports no usage)."""
        model = f"models/{bare_model(target.model)}"
        dimensions = body.dimensions if isinstance(body.dimensions, int) else UNSET
        payload = BatchEmbed(
            requests=[
                EmbedContent(model=model, content=Content(parts=[Part(text=t)]), output_dimensionality=dimensions)
                for t in body.texts("Gemini")
            ]
        )
        raw, headers = await self.exchange(self.url(target, "batchEmbedContents"), payload, cred, target, opts)
        data = decode_vendor(raw, BatchEmbedded, self.name)
        out = EmbeddingList(
            model=target.model,
            usage={"prompt_tokens": 0, "total_tokens": 0},
            data=[Embedding(index=i, embedding=e.values) for i, e in enumerate(data.embeddings)],
        )
        return EmbeddingResult(body=out, usage=Usage(), headers=headers)
