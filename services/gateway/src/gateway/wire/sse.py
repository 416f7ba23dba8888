"""Incremental SSE parsing: bytes in (split anywhere, even mid-line or mid-UTF-8), events out.

Lines end with LF, CRLF or a lone CR. Splitting happens on bytes, so a multi-byte UTF-8 sequence
cut by the network is decoded only once its line is complete. `:` lines are comments
(keep-alives) and are ignored; `event:` and `data:` are the only fields kept (`id:`/`retry:` are
irrelevant to provider streams).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from shared.messages.usage import Usage

T = TypeVar("T")

_LF, _CR = 0x0A, 0x0D


@dataclass(slots=True)
class SseEvent:
    event: str | None
    data: str


class SseParser:
    __slots__ = ("_buffer", "_data", "_event", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._event: str | None = None
        self._data: list[str] = []
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Add bytes; return every event completed by them (possibly none)."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        self._buffer += chunk
        out: list[SseEvent] = []
        buffer = self._buffer
        if b"\r" not in buffer:  # LF only, as most servers send: split in one call, not line by line
            lines = buffer.split(b"\n")
            del buffer[: len(buffer) - len(lines[-1])]
            for raw in lines[:-1]:
                self._line(bytes(raw), out)
            return out
        start = 0
        size = len(buffer)
        while start < size:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, lf if lf >= 0 else size)
            if cr >= 0:
                end, step = cr, 1
                if cr + 1 < size:
                    if buffer[cr + 1] == _LF:
                        step = 2
                else:
                    self._skip_lf = True
            elif lf >= 0:
                end, step = lf, 1
            else:
                break
            self._line(bytes(buffer[start:end]), out)
            start = end + step
        del buffer[:start]
        return out

    def close(self) -> list[SseEvent]:
        """End of body: a final event without its blank line still counts (servers often omit it)."""
        out: list[SseEvent] = []
        if self._buffer:
            self._line(bytes(self._buffer), out)
            self._buffer.clear()
        self._dispatch(out)
        return out

    def _line(self, raw: bytes, out: list[SseEvent]) -> None:
        if not raw:
            self._dispatch(out)
            return
        if raw[:6] == b"data: ":  # the usual line, without splitting it into its name and value
            self._data.append(raw[6:].decode("utf-8", "replace"))
            return
        if raw[0] == 0x3A:  # ':' comment / keep-alive
            return
        line = raw.decode("utf-8", "replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value

    def _dispatch(self, out: list[SseEvent]) -> None:
        data = self._data
        if data:
            out.append(SseEvent(self._event, data[0] if len(data) == 1 else "\n".join(data)))
            self._data = []
        self._event = None


class StreamTranslator(Protocol[T]):
    """Turns one provider's SSE events into items: normalised OpenAI chunks (see
    `providers.base.ChatStream`), or a Responses upstream's events."""

    usage: Usage | None
    finished: bool  # the terminal event was seen: stop reading

    def feed(self, event: SseEvent) -> list[T]: ...

    def end(self) -> list[T]:
        """End of body: flush, or raise `ProviderError` if the terminal event never came."""
        ...
