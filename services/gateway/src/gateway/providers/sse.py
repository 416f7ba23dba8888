"""Incremental SSE parsing: bytes in (split anywhere, even mid-UTF-8), events out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class SseEvent:
    event: str | None
    data: str


class SseParser:
    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        out: list[SseEvent] = []
        while True:
            index = self._buffer.find(b"\n")
            if index < 0:
                return out
            raw, self._buffer = self._buffer[:index], self._buffer[index + 1:]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if self._data or self._event:
                    out.append(SseEvent(self._event, "\n".join(self._data)))
                self._event, self._data = None, []
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "data":
                    self._data.append(value)
                elif field == "event":
                    self._event = value

    def close(self) -> list[SseEvent]:
        events = self.feed(b"\n\n") if self._buffer or self._data else []
        return events


async def iter_events(content: AsyncIterator[bytes]) -> AsyncIterator[SseEvent]:
    parser = SseParser()
    async for chunk in content:
        for event in parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event
