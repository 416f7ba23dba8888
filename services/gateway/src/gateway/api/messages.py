"""`POST /v1/messages`: Anthropic Messages in, any provider out (Anthropic SDKs, Claude Code).

Decided per attempt, like `/v1/responses`: a target that speaks Anthropic's wire format (the
`anthropic` adapter, Claude on Vertex) gets the client's request as sent, with the model, the
credential and allowlisted `anthropic-*` headers (`providers/messages.py`), and its answer or
events are relayed as they are; any other target gets it translated to the gateway's OpenAI
format (`translate/anthropic_inbound.py`, which refuses with a 400 naming the field what it
cannot carry) and the answer (or stream) translated back. So failover between an Anthropic target
and a translated one works. Error bodies keep the contract's `{"error": {message, type, code,
param}}` and add Anthropic's `"type": "error"` envelope field; a failure after the first byte is
an Anthropic `error` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, post

from gateway.api.edge import begin, response_headers
from gateway.api.inference import SSE_HEADERS, fail
from gateway.api.sse import SseStream
from gateway.api.state import GatewayState
from gateway.providers import messages as direct
from gateway.providers.base import CallOptions, ChatStream, Credential, ProviderAdapter, Target, UpstreamStream
from gateway.providers.openai_compat import GATEWAY_FIELDS
from gateway.recorder import RequestRecord
from gateway.streaming import EventStream, StreamFormat, opened, relay, sse
from gateway.translate.anthropic_inbound import (
    AnthropicStreamEmitter,
    anthropic_request_to_openai,
    error_event,
    openai_response_to_anthropic,
)
from gateway.wire.chat_body import ChatInput
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Answer:
    """A finished message, whichever way it was produced."""

    body: dict[str, Any]
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        blocks = self.body.get("content")
        return (
            "".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text")
            if isinstance(blocks, list)
            else ""
        )


class Turn:
    """One Messages request: the client's body, and its translation for targets of other formats."""

    def __init__(
        self, gw: GatewayState, record: RequestRecord, inbound: dict[str, Any], headers: Mapping[str, str]
    ) -> None:
        self.gw, self.record, self.inbound, self.headers = gw, record, inbound, headers
        self.model = str(inbound["model"])
        # what routing reads (conditions on `user`, `models`...): translated leniently, never sent
        self.routing = {**anthropic_request_to_openai(inbound, strict=False), "model": self.model}
        self.routing.update({name: inbound[name] for name in GATEWAY_FIELDS if name in inbound})
        self._chat: dict[str, Any] | None = None

    def chat_body(self, target: Target) -> dict[str, Any]:
        """The request in the OpenAI format, refusing (400) what that format cannot carry."""
        if self._chat is None:
            self._chat = anthropic_request_to_openai(self.inbound)
        return {**self._chat, "model": target.model}

    # --- non-streaming ------------------------------------------------------------------------------
    async def call(self) -> Answer:
        plan = await self.gw.proxy.plan(self.record.principal, self.routing, self.headers)
        opts = self.gw.proxy.options(include_usage=True)
        return await self.gw.proxy.run(self.record, plan, self.routing, self._attempt, opts)

    async def _attempt(
        self, adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> Answer:
        del payload  # the routing body; each kind of target gets its own below
        if (upstream := direct.passthrough(adapter, target, cred, opts)) is not None:
            body, usage, headers = await upstream.create(self.inbound, self.headers)
            return Answer({**body, "model": self.model}, usage, headers)
        result = await adapter.chat(ChatInput(self.chat_body(target)), target, cred, opts)
        return Answer(openai_response_to_anthropic(result.body, self.model), result.usage, result.headers)

    # --- streaming ----------------------------------------------------------------------------------
    async def stream(self) -> Response[bytes] | SseStream:
        self.record.stream = True
        opts = self.gw.proxy.options(include_usage=True)

        async def attempt(
            adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
        ) -> tuple[EventStream, AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
            del payload
            if (passthrough := direct.passthrough(adapter, target, cred, options)) is not None:
                upstream = await passthrough.open_stream(self.inbound, self.headers)
                return await opened(PassedEvents(upstream, self.model), options)
            chat = {**self.chat_body(target), "stream": True, "stream_options": {"include_usage": True}}
            upstream_chat = await adapter.open_stream(ChatInput(chat), target, cred, options)
            return await opened(TranslatedEvents(upstream_chat, self.model), options)

        try:
            plan = await self.gw.proxy.plan(self.record.principal, self.routing, self.headers)
            events, iterator, first = await self.gw.proxy.run(self.record, plan, self.routing, attempt, opts)
        except KeyrelayError as exc:
            return anthropic_error(fail(self.gw, self.record, exc))
        content = relay(events, iterator, first, self.record, self.gw.recorder, AnthropicStreamFormat(), opts.timeout_s)
        return SseStream(
            content,
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **response_headers(self.record, events.headers)},
        )


# --- streams ---------------------------------------------------------------------------------------
class PassedEvents(EventStream):
    """An Anthropic-format upstream's own events, relayed as they are (but for the model name, the
    one the client asked for, as in every answer of this endpoint)."""

    def __init__(self, inner: UpstreamStream[dict[str, Any]], model: str) -> None:
        super().__init__(inner)
        self.upstream, self.model = inner, model

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        async for event in self.upstream:
            self.usage = self.upstream.usage
            message = event.get("message") if event.get("type") == "message_start" else None
            if isinstance(message, dict):
                message["model"] = self.model
            yield event
        self.usage = self.upstream.usage


class TranslatedEvents(EventStream):
    """Chat chunks of any provider, as Anthropic events (the closing ones carry the usage)."""

    def __init__(self, inner: ChatStream, model: str) -> None:
        super().__init__(inner)
        self.chat = inner
        self.emitter = AnthropicStreamEmitter(model)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self.chat:
            for _, event in self.emitter.feed(chunk):
                yield event
        self.usage = self.chat.usage
        for _, event in self.emitter.finish(self.usage):
            yield event


class AnthropicStreamFormat(StreamFormat[dict[str, Any]]):
    """Anthropic events are named SSE events (`event: <type>`); the last one is `message_stop`."""

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        return [sse(chunk, str(chunk.get("type") or "message"))]

    def capture(self, record: RequestRecord, chunk: dict[str, Any]) -> None:
        """Content logging (when the project turned it on): the answer's text, as it streams."""
        delta = chunk.get("delta")
        if record.content is not None and isinstance(delta, dict) and delta.get("type") == "text_delta":
            record.content["response"] = (record.content.get("response") or "") + str(delta.get("text") or "")

    def end(self, usage: Usage, last: dict[str, Any] | None) -> list[bytes]:
        del usage, last  # the closing events already went out
        return []

    def error(self, exc: KeyrelayError) -> list[bytes]:
        return [sse(data, event) for event, data in (error_event(exc),)]


def anthropic_error(response: Response[bytes]) -> Response[bytes]:
    """Add Anthropic's `"type": "error"` to the contract's error body (Anthropic SDKs read both)."""
    body = msgspec.json.decode(response.content)
    if isinstance(body, dict) and "error" in body:
        response.content = msgspec.json.encode({"type": "error", **body})
    return response


@post("/v1/messages", status_code=200)
async def messages(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes] | SseStream:
    record, inbound = await begin(request, gw, "messages")
    try:
        turn = Turn(gw, record, inbound, request.headers)
    except (KeyError, TypeError, ValueError) as exc:
        error = KeyrelayError("invalid_request", f"not a valid Messages request ({type(exc).__name__})")
        return anthropic_error(fail(gw, record, error))
    except KeyrelayError as exc:
        return anthropic_error(fail(gw, record, exc))
    if inbound.get("stream") is True:
        return await turn.stream()
    try:
        answer = await turn.call()
    except KeyrelayError as exc:
        return anthropic_error(fail(gw, record, exc))
    record.mark_first_byte()
    record.set_usage(answer.usage)
    if record.content is not None:
        record.content["response"] = answer.text
    gw.recorder.finish(record, status=200)
    headers = response_headers(record, answer.headers)
    return Response(_encode(answer.body), media_type="application/json", headers=headers, status_code=200)


MESSAGES_ROUTES = [messages]
