"""`POST /v1/responses` (the OpenAI Responses API) and `GET /v1/responses/{id}`.

Same use case as chat completions: auth, limits and budgets (`begin`), routing, retries and
failover (`Proxy.run`), one activity record with usage and cost. Per attempt, a target that
serves the Responses API itself (OpenAI, xAI) gets the request as sent, with the model and the
credential changed (`providers/responses.py`); any other target gets it translated to chat
completions and the answer (or stream, event by event) translated back (`translate/responses.py`).

`previous_response_id` is resolved here, from the project's own stored contexts
(`responses_store.py`), and sent upstream as the full input: so a conversation can continue on
any target (failover included), and a response id of another project is unknown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, get, post

from gateway.api.edge import bearer, begin, request_id, response_headers
from gateway.api.inference import SSE_HEADERS, fail
from gateway.api.sse import SseStream
from gateway.api.state import GatewayState
from gateway.providers import responses as direct
from gateway.providers.base import CallOptions, ChatStream, Credential, ProviderAdapter, Target, UpstreamStream
from gateway.recorder import RequestRecord
from gateway.responses_store import StoredResponse
from gateway.streaming import EventStream, StreamFormat, opened, relay, sse
from gateway.translate.responses import (
    ChatDelta,
    InputItem,
    ParsedRequest,
    decode_item,
    failure_code,
    from_chat,
    parse_request,
    to_chat,
)
from gateway.translate.responses import Response as ResponseObject
from gateway.translate.responses_events import ErrorEvent, ResponseEventEmitter
from gateway.wire.chat_body import ChatInput
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(slots=True)
class Answer:
    """A finished response, whichever way it was produced."""

    body: bytes
    response_id: str
    output: list[msgspec.Raw]
    usage: Usage
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Turn:
    """One Responses request: what every attempt needs, and keeping its context afterwards."""

    def __init__(self, gw: GatewayState, record: RequestRecord, raw: dict[str, Any], parsed: ParsedRequest) -> None:
        self.gw, self.record, self.raw, self.parsed = gw, record, raw, parsed
        self.context: list[msgspec.Raw] = []
        self.model = parsed.request.model

    async def load_context(self) -> None:
        previous = self.parsed.request.previous_response_id
        if previous is not None:
            self.context = (await self.gw.responses.get(self.record.principal, previous)).items

    @property
    def items(self) -> list[msgspec.Raw]:
        return [*self.context, *self.parsed.raw_input]

    def typed_items(self) -> list[InputItem]:
        return [*(decode_item(item) for item in self.context), *self.parsed.input]

    def upstream_body(self) -> dict[str, Any]:
        """The client's body for a Responses target: as sent, with the stored context expanded."""
        if not self.context:
            return self.raw
        body = {k: v for k, v in self.raw.items() if k != "previous_response_id"}
        body["input"] = [_decode(item) for item in self.items]
        return body

    def chat_body(self, target: Target) -> dict[str, Any]:
        chat = to_chat(self.parsed, self.typed_items(), target.provider)
        chat["model"] = target.model
        return chat

    def start(self) -> ResponseObject:
        return ResponseObject.start(self.parsed, self.model)

    async def keep(self, answer: Answer) -> None:
        if self.parsed.request.store is False or not answer.response_id:
            return
        stored = StoredResponse(items=[*self.items, *answer.output], response=msgspec.Raw(answer.body))
        await self.gw.responses.put(self.record.principal, answer.response_id, stored)

    # --- non-streaming ------------------------------------------------------------------------------
    async def call(self, headers: Mapping[str, str]) -> Answer:
        plan = await self.gw.proxy.plan(self.record.principal, self.raw, headers)
        return await self.gw.proxy.run(self.record, plan, self.raw, self._attempt, self.gw.proxy.options())

    async def _attempt(
        self, adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> Answer:
        del payload  # the routing body; each kind of target gets its own below
        if (responses_adapter := direct.serves_responses(adapter, target)) is not None:
            body, headers = await direct.create(responses_adapter, self.upstream_body(), target, cred, opts)
            return self.passed(body, headers)
        result = await adapter.chat(ChatInput(self.chat_body(target)), target, cred, opts)
        response = from_chat(result.body, self.parsed, self.model, result.usage)
        return translated(response, result.usage, result.headers)

    def passed(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        if self.context:
            body["previous_response_id"] = self.parsed.request.previous_response_id
        output = body.get("output")
        return Answer(
            body=_encode(body),
            response_id=str(body.get("id") or ""),
            output=[msgspec.Raw(_encode(item)) for item in output] if isinstance(output, list) else [],
            usage=direct.usage_of(body.get("usage")),
            text=_output_text(output),
            headers=headers,
        )

    # --- streaming ------------------------------------------------------------------------------------
    async def stream(self, headers: Mapping[str, str]) -> Response[bytes] | SseStream:
        self.record.stream = True
        fmt = ResponsesStreamFormat()

        async def attempt(
            adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
        ) -> tuple[ResponsesEvents, AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
            del payload
            events: ResponsesEvents
            if (responses_adapter := direct.serves_responses(adapter, target)) is not None:
                upstream = await direct.open_stream(responses_adapter, self.upstream_body(), target, cred, opts)
                events = PassedEvents(upstream, self)
            else:
                request = ChatInput({**self.chat_body(target), "stream": True})
                chat = await adapter.open_stream(request, target, cred, opts)
                events = TranslatedEvents(chat, self)
            fmt.source = events
            return await opened(events, opts)

        try:
            plan = await self.gw.proxy.plan(self.record.principal, self.raw, headers)
            events, iterator, first = await self.gw.proxy.run(
                self.record, plan, self.raw, attempt, self.gw.proxy.options()
            )
        except KeyrelayError as exc:
            return fail(self.gw, self.record, exc)
        content = relay(events, iterator, first, self.record, self.gw.recorder, fmt, self.gw.proxy.options().timeout_s)
        return SseStream(
            content,
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **response_headers(self.record, events.headers)},
        )


def translated(response: ResponseObject, usage: Usage, headers: dict[str, str]) -> Answer:
    return Answer(
        body=_encode(response),
        response_id=response.id,
        output=[msgspec.Raw(_encode(item)) for item in response.output],
        usage=usage,
        text="".join(part.text for item in response.output for part in getattr(item, "content", [])),
        headers=headers,
    )


def _output_text(output: object) -> str:
    texts: list[str] = []
    for item in output if isinstance(output, list) else []:
        for part in item.get("content") or [] if isinstance(item, dict) else []:
            if isinstance(part, dict) and part.get("type") == "output_text":
                texts.append(str(part.get("text", "")))
    return "".join(texts)


# --- streams ---------------------------------------------------------------------------------------
class ResponsesEvents(EventStream):
    """Responses events, whatever the upstream spoke; keeps the context before it lets the terminal
    event out, so a follow-up sent at once finds it."""

    def __init__(self, inner: UpstreamStream[object], turn: Turn) -> None:
        super().__init__(inner)
        self.turn = turn

    def failure(self, exc: KeyrelayError) -> list[dict[str, Any]]:
        raise NotImplementedError

    def capture(self, event: dict[str, Any]) -> None:
        """Content logging (when the project turned it on): the answer's text, as it streams."""
        content = self.turn.record.content
        if content is not None and event.get("type") == "response.output_text.delta":
            content["response"] = (content.get("response") or "") + str(event.get("delta") or "")


class PassedEvents(ResponsesEvents):
    """A Responses upstream's own events, relayed as they are (`previous_response_id` restored)."""

    def __init__(self, inner: UpstreamStream[dict[str, Any]], turn: Turn) -> None:
        super().__init__(inner, turn)
        self.upstream = inner
        self._sequence = -1
        self._response: dict[str, Any] = {}

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        async for event in self.upstream:
            self._sequence = max(self._sequence, _int(event.get("sequence_number")))
            response = event.get("response")
            if isinstance(response, dict):
                if self.turn.context:
                    response["previous_response_id"] = self.turn.parsed.request.previous_response_id
                self._response = response
            self.usage = self.inner.usage
            if event.get("type") in direct.TERMINAL:
                await self.turn.keep(self.turn.passed(dict(self._response), {}))
            self.capture(event)
            yield event

    def failure(self, exc: KeyrelayError) -> list[dict[str, Any]]:
        code = failure_code(exc)
        response = {**self._response, "status": "failed", "error": {"code": code, "message": exc.message}}
        return [
            {"type": "response.failed", "sequence_number": self._sequence + 1, "response": response},
            {
                "type": "error",
                "sequence_number": self._sequence + 2,
                "code": code,
                "message": exc.message,
                "param": exc.param,
            },
        ]


class TranslatedEvents(ResponsesEvents):
    """Chat chunks of any provider, as Responses events."""

    def __init__(self, inner: ChatStream, turn: Turn) -> None:
        super().__init__(inner, turn)
        self.chat = inner
        self.emitter = ResponseEventEmitter(turn.start())

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self.chat:
            for event in self.emitter.feed(ChatDelta.of_chunk(chunk)):
                plain = _plain(event)
                self.capture(plain)
                yield plain
        self.usage = self.inner.usage or Usage()
        closing = self.emitter.finish(self.usage)
        await self.turn.keep(translated(self.emitter.response, self.usage, {}))
        for event in closing:
            yield _plain(event)

    def failure(self, exc: KeyrelayError) -> list[dict[str, Any]]:
        self.usage = self.inner.usage
        return [_plain(event) for event in self.emitter.error(exc)]


class ResponsesStreamFormat(StreamFormat[dict[str, Any]]):
    """Responses events are named SSE events (`event: <type>`); no `[DONE]` at the end."""

    source: ResponsesEvents | None = None

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        return [sse(chunk, str(chunk.get("type") or "message"))]

    def end(self, usage: Usage, last: dict[str, Any] | None) -> list[bytes]:
        del usage, last  # the terminal event already went out
        return []

    def error(self, exc: KeyrelayError) -> list[bytes]:
        if self.source is None:
            event = ErrorEvent(sequence_number=0, code=failure_code(exc), message=exc.message, param=exc.param)
            return [sse(_plain(event), "error")]
        return [sse(event, str(event["type"])) for event in self.source.failure(exc)]


def _plain(event: msgspec.Struct) -> dict[str, Any]:
    """An event as the dict `relay` hands on (free-form values stay `msgspec.Raw`, encoded as they are)."""
    plain: dict[str, Any] = msgspec.to_builtins(event, builtin_types=(msgspec.Raw,))
    return plain


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


# --- handlers ------------------------------------------------------------------------------------
@post("/v1/responses", status_code=200)
async def create_response(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes] | SseStream:
    record, raw = await begin(request, gw, "responses")
    try:
        turn = Turn(gw, record, raw, parse_request(raw))
        await turn.load_context()
    except KeyrelayError as exc:
        return fail(gw, record, exc)
    if turn.parsed.request.stream:
        return await turn.stream(request.headers)
    try:
        answer = await turn.call(request.headers)
    except KeyrelayError as exc:
        return fail(gw, record, exc)
    record.mark_first_byte()
    record.set_usage(answer.usage)
    if record.content is not None:
        record.content["response"] = answer.text
    await turn.keep(answer)
    gw.recorder.finish(record, status=200)
    return Response(
        answer.body, media_type="application/json", headers=response_headers(record, answer.headers), status_code=200
    )


@get("/v1/responses/{response_id:str}")
async def retrieve_response(request: Request[Any, Any, Any], gw: GatewayState, response_id: str) -> Response[bytes]:
    """A stored response of the caller's project (what `previous_response_id` would continue)."""
    rid = request_id(request)
    principal = await gw.catalog.api_key(bearer(request))
    try:
        stored = await gw.responses.get(principal, response_id)
    except KeyrelayError as exc:
        if exc.code != "invalid_request":
            raise
        raise KeyrelayError("not_found", "no response with this id is kept for this project") from None
    return Response(bytes(stored.response), media_type="application/json", headers={"x-request-id": rid})


RESPONSES_ROUTES = [create_response, retrieve_response]
