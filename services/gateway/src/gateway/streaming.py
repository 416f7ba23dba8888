"""Relaying a provider stream to the client as SSE, honestly.

* Chunks are re-encoded once each, flushed as they come; the usage chunk is sent only when the
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
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from gateway.providers.base import ChatStream, ProviderError
from gateway.recorder import ActivityRecorder, RequestRecord
from gateway.translate.common import usage_to_openai
from shared.errors import ErrorCode, KeyrelayError
from shared.messages.activity import StreamOutcome
from shared.messages.usage import Usage

_encode = msgspec.json.Encoder().encode
DONE = b"data: [DONE]\n\n"


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + _encode(data) + b"\n\n"


class StreamFormat:
    """How one client dialect frames chunks, the end and errors (OpenAI here; Anthropic elsewhere)."""

    def start(self) -> list[bytes]:
        return []

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        return [sse(chunk)]

    def end(self, usage: Usage, last: dict[str, Any] | None) -> list[bytes]:
        raise NotImplementedError

    def error(self, exc: KeyrelayError) -> list[bytes]:
        raise NotImplementedError


class OpenAIStreamFormat(StreamFormat):
    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage

    def end(self, usage: Usage, last: dict[str, Any] | None) -> list[bytes]:
        out: list[bytes] = []
        if self.include_usage:
            base = last or {}
            out.append(
                sse(
                    {
                        "id": base.get("id", ""),
                        "object": "chat.completion.chunk",
                        "created": base.get("created", int(time.time())),
                        "model": base.get("model", ""),
                        "choices": [],
                        "usage": usage_to_openai(usage),
                    }
                )
            )
        out.append(DONE)
        return out

    def error(self, exc: KeyrelayError) -> list[bytes]:
        return [sse({"error": {"message": exc.message, "type": exc.type, "code": exc.code, "param": exc.param}})]


async def relay(
    stream: ChatStream,
    iterator: AsyncIterator[dict[str, Any]],
    first: dict[str, Any] | None,
    record: RequestRecord,
    recorder: ActivityRecorder,
    fmt: StreamFormat,
    chunk_timeout_s: float,
    on_chunk: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[bytes]:
    outcome: StreamOutcome
    outcome, status, code = "complete", 200, None
    last: dict[str, Any] | None = first
    if first is not None:
        record.mark_first_byte()
    recorder.started(record)
    try:
        for piece in fmt.start():
            yield piece
        if first is not None:
            record.capture_chunk(first)
            if on_chunk:
                on_chunk(first)
            for piece in fmt.chunk(first):
                yield piece
        while True:
            try:
                chunk = await asyncio.wait_for(iterator.__anext__(), timeout=chunk_timeout_s)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise ProviderError(ErrorCode.UPSTREAM_TIMEOUT, "upstream stream stalled") from None
            last = chunk
            record.mark_first_byte()
            record.capture_chunk(chunk)
            if on_chunk:
                on_chunk(chunk)
            for piece in fmt.chunk(chunk):
                yield piece
        record.set_usage(stream.usage)
        for piece in fmt.end(record.usage, last):
            yield piece
    except KeyrelayError as exc:
        outcome, status, code = "upstream_error", exc.status, exc.code
        record.set_usage(stream.usage)
        for piece in fmt.error(exc):
            yield piece
    except (asyncio.CancelledError, GeneratorExit):
        outcome, status, code = "client_cancelled", 499, ErrorCode.CLIENT_CANCELLED
        raise
    finally:
        await _close(stream)
        if record.attempts and outcome != "complete":
            last_attempt = record.attempts[-1]
            record.attempts[-1] = msgspec.structs.replace(last_attempt, error_code=code)
        recorder.finish(record, status=status, error_code=code, stream_outcome=outcome)


async def _close(stream: ChatStream) -> None:
    with contextlib.suppress(BaseException):  # best effort: the upstream may already be gone
        await asyncio.shield(stream.aclose())
