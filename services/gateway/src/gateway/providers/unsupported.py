"""Mixins for adapters that lack an operation: each answers `unsupported_operation`."""

from __future__ import annotations

from typing import ClassVar

from gateway.providers.base import (
    ChatResult,
    ChatStream,
    EmbeddingResult,
    ImageResult,
    Operation,
    unsupported_operation,
)


class NoChat:
    name: ClassVar[str]

    async def chat(self, *_args: object, **_kwargs: object) -> ChatResult:
        raise unsupported_operation(self.name, Operation.CHAT)

    async def open_stream(self, *_args: object, **_kwargs: object) -> ChatStream:
        raise unsupported_operation(self.name, Operation.CHAT)


class NoEmbeddings:
    name: ClassVar[str]

    async def embed(self, *_args: object, **_kwargs: object) -> EmbeddingResult:
        raise unsupported_operation(self.name, Operation.EMBED)


class NoImages:
    name: ClassVar[str]

    async def images(self, *_args: object, **_kwargs: object) -> ImageResult:
        raise unsupported_operation(self.name, Operation.IMAGES)
