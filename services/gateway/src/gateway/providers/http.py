"""The one way adapters talk HTTP: guarded URL, timeouts from `CallOptions`, errors mapped once.

* Non-streaming calls get a total deadline of `opts.timeout_s`.
* Streaming calls must send their response headers and then their first body bytes within
  `opts.first_byte_timeout_s`; after that every read must bring bytes within `opts.timeout_s`.
* Any non-2xx status is read (bounded) and mapped by `errors.map_error`; connection failures
  become `upstream_error` and timeouts `upstream_timeout`, both with `upstream_status=0`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec

from gateway.outbound import check_redirect, guard_url
from gateway.providers.base import CallOptions, ProviderError
from gateway.read_deadline import ReadDeadline
from gateway.wire.errors import (
    connection_error,
    interrupted,
    map_error,
    passthrough_headers,
    timeout_error,
)
from gateway.wire.openai import Extensible, encode
from gateway.wire.sse import SseEvent, SseParser, StreamTranslator
from shared.messages.usage import Usage

MAX_ERROR_BODY = 64 * 1024
ERROR_BODY_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}

decode_json = msgspec.json.Decoder().decode
B = TypeVar("B", bound=Extensible)
T = TypeVar("T")


async def send(
    session: aiohttp.ClientSession,
    provider: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    opts: CallOptions,
    payload: object = None,
    data: bytes | str | None = None,
    stream: bool = False,
) -> aiohttp.ClientResponse:
    """Send one request; return the 2xx response (caller reads/releases it) or raise `ProviderError`."""
    policy = getattr(session, "policy", None)
    if policy is not None:
        guard_url(policy, url)
    body = encode(payload) if payload is not None else data
    connect = min(CONNECT_TIMEOUT_S, opts.first_byte_timeout_s)
    deadline: float | None
    if stream:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=None)
        deadline = opts.first_byte_timeout_s
    else:
        timeout = aiohttp.ClientTimeout(total=opts.timeout_s, sock_connect=connect)
        deadline = None  # aiohttp's total timeout bounds the whole call already: no second timer
    try:
        async with asyncio.timeout(deadline):
            response = await session.request(
                method, url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False, middlewares=()
            )
        check_redirect(response)  # the session's middleware, without its per-request chain
    except TimeoutError:
        raise timeout_error(provider) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise connection_error(provider, exc) from None
    if 200 <= response.status < 300:
        return response
    raise await error_from(provider, response)


async def error_from(provider: str, response: aiohttp.ClientResponse) -> ProviderError:
    """Read (bounded) and map a failed response, then release it."""
    body: Any = None
    try:
        async with asyncio.timeout(ERROR_BODY_TIMEOUT_S):
            raw = await response.content.read(MAX_ERROR_BODY)
        body = decode_json(raw) if raw else None
    except (msgspec.DecodeError, TimeoutError, aiohttp.ClientError, OSError, UnicodeDecodeError):
        body = None
    finally:
        response.release()
    return map_error(provider, response.status, body, response.headers)


async def read_body(provider: str, response: aiohttp.ClientResponse) -> bytes:
    """The whole body of a 2xx response (the request's total timeout applies), then release it."""
    try:
        return await response.read()
    except TimeoutError:
        raise timeout_error(provider, "response body timed out") from None
    except (aiohttp.ClientError, OSError):
        raise interrupted(provider, "response interrupted") from None
    finally:
        response.release()


def decode_body(provider: str, raw: bytes, kind: type[B]) -> B:
    """An upstream body as one of the boundary's structs; anything else is a malformed response."""
    try:
        return kind.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise interrupted(provider, "malformed response body") from None


async def read_json(provider: str, response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The JSON object body of a 2xx response in a vendor's own format."""
    raw = await read_body(provider, response)
    try:
        body = decode_json(raw)
    except msgspec.DecodeError:
        raise interrupted(provider, "malformed response body") from None
    if not isinstance(body, dict):
        raise interrupted(provider, "malformed response body")
    return body


class ProviderStream(Generic[T]):
    """An `UpstreamStream` over one upstream response and the translator for its wire format."""

    def __init__(
        self, provider: str, response: aiohttp.ClientResponse, translator: StreamTranslator[T], opts: CallOptions
    ) -> None:
        self._provider = provider
        self._response = response
        self._translator = translator
        self._opts = opts
        self.headers = passthrough_headers(response.headers)
        self.usage: Usage | None = None
        self.pending = 0  # items already parsed from the same upstream read, still to be taken

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        """The upstream's items, those of one read together (`pending` counts the rest of a read):
        first bytes within the first-byte timeout, then each read within the request timeout. The
        reads are made here, not in a generator of their own: a paced stream wakes this chain once
        per chunk, and every layer of it costs each wake-up."""
        provider, translator, opts = self._provider, self._translator, self._opts
        parser = SseParser()
        content = self._response.content
        limit = opts.first_byte_timeout_s
        deadline = ReadDeadline()  # one lazy timer per stream, not one per read
        try:
            while not translator.finished:
                try:
                    with deadline.limit(limit):
                        data = await content.readany()
                except TimeoutError:
                    raise timeout_error(provider, "stream stalled") from None
                except (aiohttp.ClientError, OSError):
                    raise interrupted(provider) from None
                events = parser.feed(data) if data else parser.close()
                if events:
                    ready, failure = self._translate(events)
                    for taken, chunk in enumerate(ready, 1):
                        self.pending = len(ready) - taken
                        yield chunk
                    if failure is not None:
                        raise failure
                if not data:
                    break
                limit = opts.timeout_s
            chunks = translator.end()
            self.usage = translator.usage
            for chunk in chunks:
                yield chunk
        finally:
            deadline.close()
            self._response.release()

    def _translate(self, events: list[SseEvent]) -> tuple[list[T], Exception | None]:
        """The items of one read's events, up to the terminal event; a failure comes after the items
        before it (they still go out first, as they came)."""
        translator = self._translator
        ready: list[T] = []
        for event in events:
            try:
                ready.extend(translator.feed(event))
            except Exception as exc:  # raised by the caller once the items before it are out
                return ready, exc
            self.usage = translator.usage
            if translator.finished:
                break
        return ready, None

    async def aclose(self) -> None:
        self._response.close()
