"""The base of the pass-through stream readers (Responses and Messages): each event goes to the
client as the provider sent it; a vendor's reader takes usage, the end and failures on the way."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from gateway.providers.http import decode_json
from gateway.wire.errors import interrupted
from gateway.wire.openai import Json
from gateway.wire.sse import SseEvent
from shared.messages.usage import Usage


class RelayedEvents:
    """A `StreamTranslator` that relays JSON events; `read` raises `ProviderError` on a failure event."""

    end_event: ClassVar[str]  # the event that ends a complete stream (named when it never came)

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.usage: Usage | None = None
        self.finished = False

    def feed(self, event: SseEvent) -> list[Json]:
        if not event.data or event.data.strip() == "[DONE]":
            return []
        try:
            data = decode_json(event.data)
        except msgspec.DecodeError:
            raise interrupted(self._provider, "malformed stream event") from None
        if not isinstance(data, dict):
            return []
        self.read(data.get("type"), data)
        return [data]

    def read(self, kind: object, data: Json) -> None:
        """Usage, the end and failures from one event (`kind` is its `type`)."""
        raise NotImplementedError

    def end(self) -> list[Json]:
        if not self.finished:
            raise interrupted(self._provider, f"stream ended before {self.end_event}")
        return []
