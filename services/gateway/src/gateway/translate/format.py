"""What a translated adapter is configured by: one vendor chat format, both directions and streams."""

from __future__ import annotations

from typing import Protocol

from gateway.wire.openai import ChatChunk, ChatCompletion, ChatRequest
from gateway.wire.sse import StreamTranslator
from shared.messages.usage import Usage


class ChatFormat(Protocol):
    def request(self, body: ChatRequest, model: str, *, stream: bool) -> object:
        """The vendor's request body (a struct `wire.openai.encode` can write)."""
        ...

    def response(self, raw: bytes, model: str, provider: str) -> tuple[ChatCompletion, Usage]:
        """The vendor's response body as a `chat.completion`, plus its usage."""
        ...

    def stream(self, provider: str, model: str) -> StreamTranslator[ChatChunk]:
        """A fresh translator of the vendor's stream events into OpenAI chunks."""
        ...
