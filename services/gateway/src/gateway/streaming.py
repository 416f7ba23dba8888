"""Relaying a provider stream to the client as SSE, honestly.

* Chunks are re-encoded once each and flushed as they come, those of one upstream read in one
  write (a burst costs one ASGI send, not one per chunk); the usage chunk is sent only when the
  client asked (`stream_options.include_usage`), but usage is always recorded and priced.
* A failure after the first byte is never silent: the client gets a terminal error event in its
  own format and no `[DONE]`; the record says `stream_outcome: upstream_error`.
* A client that goes away cancels the upstream request at once (`client_cancelled`).
* When the first byte goes out, an `interrupted` stand-in record is journaled: if the gateway dies
  mid-stream, the restarted gateway's spool replay records the stream as `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

import msgspec

from gateway.providers.base import CallOptions, ProviderError, UpstreamStream
from gateway.proxy import read_first_chunk
from gateway.read_deadline import ReadDeadline
from gateway.recorder import ActivityRecorder, RequestRecord
from gateway.translate.common import usage_to_openai
from gateway.wire.openai import ChatChunk, WireChunk, encode
from shared.errors import ErrorCode, KeyrelayError
from shared.messages.activity import StreamOutcome
from shared.messages.usage import Usage

T = TypeVar("T")


class Last(bytes):
    """A stream's terminal write (its end, or its error event): the response ends with it."""


DONE = b"data: [DONE]\n\n"
_NULL_USAGE = b',"usage":null'


def sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + encode(data) + b"\n\n"


class EventStream:
    """An `UpstreamStream` of an endpoint's own events (dicts), whatever the upstream spoke:
    a subclass makes `events()` from the upstream, which gives the headers and is closed."""

    def __init__(self, inner: UpstreamStream[object]) -> None:
        self.inner = inner
        self.headers = inner.headers
        self.usage: Usage | None = None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self.events()

    def events(self) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.inner.aclose()


E = TypeVar("E", bound=EventStream)


async def opened(events: E, opts: CallOptions) -> tuple[E, AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
    """An endpoint's event stream with its first event read, inside the attempt: a failure so far
    can still fail over."""
    iterator = events.__aiter__()
    return events, iterator, await read_first_chunk(events, iterator, opts.first_byte_timeout_s)


class StreamFormat(Generic[T]):
    """How one client dialect frames items, the end and errors (OpenAI here; Anthropic, Responses elsewhere)."""

    def start(self) -> list[bytes]:
        return []

    def chunk(self, chunk: T) -> list[bytes]:
        return [sse(chunk)]

    def capture(self, record: RequestRecord, chunk: T) -> None:
        """Content logging of what streams (chat chunks: the text; other dialects log their own)."""
        del record, chunk

    def end(self, usage: Usage, last: T | None) -> list[bytes]:
        raise NotImplementedError

    def error(self, exc: KeyrelayError) -> list[bytes]:
        raise NotImplementedError


class ChatStreamFormat(StreamFormat[ChatChunk]):
    """A dialect fed with chat chunks: their text is what content logging keeps."""

    def capture(self, record: RequestRecord, chunk: ChatChunk) -> None:
        record.capture_chunk(chunk)


class OpenAIStreamFormat(ChatStreamFormat):
    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage

    def chunk(self, chunk: ChatChunk) -> list[bytes]:
        if isinstance(chunk, WireChunk):  # needed no change: the upstream's own bytes
            return [b"data: " + self._wire(chunk) + b"\n\n"]
        return [sse(chunk)]

    def _wire(self, chunk: WireChunk) -> bytes:
        """The upstream's bytes; OpenAI's `"usage":null` (there because the gateway always asks for
        usage) taken out unless the client asked for usage too, as OpenAI itself would send it."""
        wire = chunk.wire
        if self.include_usage or b'"usage"' not in wire:
            return wire
        if wire.count(b'"usage"') == 1 and wire.count(_NULL_USAGE) == 1:
            return wire.replace(_NULL_USAGE, b"")
        return encode(ChatChunk.decode(wire).without("usage"))

    def end(self, usage: Usage, last: ChatChunk | None) -> list[bytes]:
        out: list[bytes] = []
        if self.include_usage:
            base = last or ChatChunk(created=int(time.time()))
            out.append(sse(ChatChunk(id=base.id, created=base.created, model=base.model, usage=usage_to_openai(usage))))
        out.append(DONE)
        return out

    def error(self, exc: KeyrelayError) -> list[bytes]:
        return [sse({"error": {"message": exc.message, "type": exc.type, "code": exc.code, "param": exc.param}})]


def relay(
    stream: UpstreamStream[T],
    iterator: AsyncIterator[T],
    first: T | None,
    record: RequestRecord,
    recorder: ActivityRecorder,
    fmt: StreamFormat[T],
    chunk_timeout_s: float,
) -> AsyncIterator[bytes]:
    """The stream's body. Its `interrupted` stand-in is journaled here, at once: the server sends
    the 200 status line before it starts iterating the body, and a gateway that dies in between
    must still leave a record of a request its client saw answered."""
    if first is not None:
        record.mark_first_byte()
    recorder.started(record)

    async def body() -> AsyncIterator[bytes]:
        outcome: StreamOutcome
        outcome, status, code = "complete", 200, None
        last: T | None = first
        held: list[bytes] = []  # chunks parsed from one upstream read, sent together when it is used up
        deadline = ReadDeadline()
        try:
            for piece in fmt.start():
                yield piece
            if first is not None:
                fmt.capture(record, first)
                for piece in fmt.chunk(first):
                    yield piece
            while True:
                try:
                    if getattr(stream, "pending", 0):  # already parsed from the last read: no wait, no timer
                        chunk = await anext(iterator)
                    else:
                        with deadline.limit(chunk_timeout_s):  # one lazy timer per stream, not one per chunk
                            chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise ProviderError(ErrorCode.UPSTREAM_TIMEOUT, "upstream stream stalled") from None
                last = chunk
                record.mark_first_byte()
                fmt.capture(record, chunk)
                held += fmt.chunk(chunk)
                if held and not getattr(stream, "pending", 0):  # the last parsed of this upstream read: one write
                    yield b"".join(held)
                    held.clear()
            record.set_usage(stream.usage)
            held += fmt.end(record.usage, last)
            if held:
                yield Last(b"".join(held))
        except KeyrelayError as exc:
            outcome, status, code = "upstream_error", exc.status, exc.code
            record.set_usage(stream.usage)
            held += fmt.error(exc)
            if held:
                yield Last(b"".join(held))
        except (asyncio.CancelledError, GeneratorExit):
            outcome, status, code = "client_cancelled", 499, ErrorCode.CLIENT_CANCELLED
            raise
        finally:
            deadline.close()
            await _close(stream)
            if record.attempts and outcome != "complete":
                last_attempt = record.attempts[-1]
                record.attempts[-1] = msgspec.structs.replace(last_attempt, error_code=code)
            recorder.finish(record, status=status, error_code=code, stream_outcome=outcome)

    return body()


async def _close(stream: UpstreamStream[T]) -> None:
    with contextlib.suppress(BaseException):  # best effort: the upstream may already be gone
        await asyncio.shield(stream.aclose())
