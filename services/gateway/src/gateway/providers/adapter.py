"""The two adapter bases: `HttpAdapter` (auth header, URL, send, read) and `TranslatedAdapter`.

`HttpAdapter` holds what every adapter repeats: the JSON headers with the vendor's auth header and
the credential's custom headers, and one `exchange` (send -> pass-through headers -> body) and
one `open` (send, streaming). Vertex overrides `request_headers` (an OAuth token) and `attempt`
(retry once after a 401).

`TranslatedAdapter` is every adapter whose vendor does not speak OpenAI: configured by its
`ChatFormat` (request converter, response converter, stream translator) and its URL, it runs
convert -> exchange -> convert back for `chat`, and convert -> open -> translate for streams; the
converters read the request's typed view (`ChatInput.typed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar, TypeVar

import aiohttp

from gateway.providers.base import CallOptions, ChatResult, Credential, Target
from gateway.providers.http import JSON_HEADERS, ProviderStream, read_body, send
from gateway.translate.format import ChatFormat
from gateway.wire.chat_body import ChatInput
from gateway.wire.errors import passthrough_headers
from gateway.wire.openai import ChatChunk

R = TypeVar("R")


class HttpAdapter:
    name: ClassVar[str]
    auth_header: ClassVar[str] = "authorization"  # where the API key goes
    auth_scheme: ClassVar[str] = "Bearer"  # its prefix ("" for the bare key)

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def auth_headers(self, cred: Credential, target: Target) -> dict[str, str]:
        del target
        if cred.api_key is None:
            return {}
        key = cred.api_key.reveal()
        return {self.auth_header: f"{self.auth_scheme} {key}" if self.auth_scheme else key}

    def headers(self, cred: Credential, target: Target) -> dict[str, str]:
        out = {**JSON_HEADERS, **self.auth_headers(cred, target)}
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    async def request_headers(self, cred: Credential, target: Target, opts: CallOptions) -> dict[str, str]:
        del opts
        return self.headers(cred, target)

    async def exchange(
        self,
        url: str,
        payload: object,
        cred: Credential,
        target: Target,
        opts: CallOptions,
        *,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """One non-streaming call: (the 2xx body, the headers to pass to the client).
        `extra_headers` (the Messages pass-through's allowlisted client headers) join the auth headers."""

        async def call() -> tuple[bytes, dict[str, str]]:
            sent = headers if headers is not None else await self.request_headers(cred, target, opts)
            sent = {**sent, **(extra_headers or {})}
            response = await send(self._session, self.name, method, url, headers=sent, opts=opts, payload=payload)
            passed = passthrough_headers(response.headers)
            return await read_body(self.name, response), passed

        return await self.attempt(cred, call)

    async def open(
        self,
        url: str,
        payload: object,
        cred: Credential,
        target: Target,
        opts: CallOptions,
        *,
        extra_headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """One streaming call: the 2xx response, its body not read yet."""

        async def call() -> aiohttp.ClientResponse:
            sent = {**await self.request_headers(cred, target, opts), **(extra_headers or {})}
            return await send(
                self._session, self.name, "POST", url, headers=sent, opts=opts, payload=payload, stream=True
            )

        return await self.attempt(cred, call)

    async def attempt(self, cred: Credential, call: Callable[[], Awaitable[R]]) -> R:
        """Run one upstream call (a hook: Vertex retries once with a fresh token after a 401)."""
        del cred
        return await call()


class TranslatedAdapter(HttpAdapter):
    """A vendor with its own chat format; subclasses name the format and the URLs."""

    format: ClassVar[ChatFormat]

    def chat_format(self, target: Target) -> ChatFormat:
        del target
        return self.format

    def chat_url(self, target: Target, cred: Credential, stream: bool) -> str:
        raise NotImplementedError

    async def chat(self, body: ChatInput, target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        fmt = self.chat_format(target)
        payload = fmt.request(body.typed, target.model, stream=False)
        raw, headers = await self.exchange(self.chat_url(target, cred, False), payload, cred, target, opts)
        out, usage = fmt.response(raw, target.model, self.name)
        return ChatResult(body=out, usage=usage, headers=headers)

    async def open_stream(
        self, body: ChatInput, target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream[ChatChunk]:
        fmt = self.chat_format(target)
        payload = fmt.request(body.typed, target.model, stream=True)
        response = await self.open(self.chat_url(target, cred, True), payload, cred, target, opts)
        return ProviderStream(self.name, response, fmt.stream(self.name, target.model), opts)
