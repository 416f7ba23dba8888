"""`POST /v1/messages`: Anthropic Messages in, any provider out (Anthropic SDKs, Claude Code).

The request is translated to the gateway's internal OpenAI format, routed like any chat request,
and the answer (or stream) translated back: Anthropic JSON, or Anthropic's named SSE events with
an `error` event if the upstream fails after the first byte. Error bodies keep the contract's
`{"error": {message, type, code, param}}` and add Anthropic's `"type": "error"` envelope field.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.response import Stream

from gateway.api.edge import begin, response_headers
from gateway.api.inference import call_upstream, chat_of, fail, json_response, stream_response
from gateway.api.state import GatewayState
from gateway.streaming import ChatStreamFormat, sse
from gateway.translate.anthropic_inbound import (
    AnthropicStreamEmitter,
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)
from gateway.wire.openai import ChatChunk, ChatRequest
from shared.errors import KeyrelayError
from shared.messages.usage import Usage


class AnthropicStreamFormat(ChatStreamFormat):
    def __init__(self, model: str) -> None:
        self._emitter = AnthropicStreamEmitter(model)

    def chunk(self, chunk: ChatChunk) -> list[bytes]:
        return [sse(data, event) for event, data in self._emitter.feed(chunk)]

    def end(self, usage: Usage, last: ChatChunk | None) -> list[bytes]:
        del last  # Anthropic's closing events carry their own ids
        return [sse(data, event) for event, data in self._emitter.finish(usage)]

    def error(self, exc: KeyrelayError) -> list[bytes]:
        return [sse(data, event) for event, data in self._emitter.error(exc)]


def anthropic_error(response: Response[bytes]) -> Response[bytes]:
    """Add Anthropic's `"type": "error"` to the contract's error body (Anthropic SDKs read both)."""
    body = msgspec.json.decode(response.content)
    if isinstance(body, dict) and "error" in body:
        response.content = msgspec.json.encode({"type": "error", **body})
    return response


@post("/v1/messages", status_code=200)
async def messages(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes] | Stream:
    record, inbound = await begin(request, gw, "messages")
    model = str(inbound["model"])
    try:
        body = anthropic_request_to_openai(inbound)
    except (KeyError, TypeError, ValueError) as exc:
        error = KeyrelayError("invalid_request", f"not a valid Messages request ({type(exc).__name__})")
        return anthropic_error(fail(gw, record, error))
    body["model"] = model
    opts = gw.proxy.options(include_usage=True)
    if inbound.get("stream") is True:
        response = await stream_response(
            gw, record, {**body, "stream": True}, request.headers, AnthropicStreamFormat(model), opts
        )
        return response if isinstance(response, Stream) else anthropic_error(response)
    try:
        operation = chat_of(ChatRequest.from_body(body))
        result = await call_upstream(gw, record, body, request.headers, operation, opts)
    except KeyrelayError as exc:
        return anthropic_error(fail(gw, record, exc))
    record.mark_first_byte()
    record.set_usage(result.usage)
    record.capture_answer(result.body)
    gw.recorder.finish(record, status=200)
    return json_response(openai_response_to_anthropic(result.body, model), response_headers(record, result.headers))


MESSAGES_ROUTES = [messages]
