"""Mixins for adapters that lack an operation: each answers `unsupported_operation`."""

from __future__ import annotations

from typing import ClassVar

from gateway.providers.base import ChatResult, ChatStream, EmbeddingResult, ImageResult, unsupported_operation


class NoChat:
    name: ClassVar[str]

    async def chat(self, *_args: object, **_kwargs: object) -> ChatResult:
        raise unsupported_operation(self.name, "chat completions")

    async def open_stream(self, *_args: object, **_kwargs: object) -> ChatStream:
        raise unsupported_operation(self.name, "chat completions")


class NoEmbeddings:
    name: ClassVar[str]

    async def embed(self, *_args: object, **_kwargs: object) -> EmbeddingResult:
        raise unsupported_operation(self.name, "embeddings")


class NoImages:
    name: ClassVar[str]

    async def images(self, *_args: object, **_kwargs: object) -> ImageResult:
        raise unsupported_operation(self.name, "image generation")
