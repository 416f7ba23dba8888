"""OpenAI-compatible inference endpoints. Thin: edge checks, then the proxy use case."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from litestar import Request, Response, post

from gateway.api.edge import begin, response_headers
from gateway.api.errors import error_response
from gateway.api.json_answer import JsonAnswer
from gateway.api.sse import SseStream
from gateway.api.state import GatewayState
from gateway.jobs import handle_entry, prefer_wait_s
from gateway.providers.base import (
    CallOptions,
    ChatResult,
    ChatStream,
    Credential,
    EmbeddingResult,
    ImageResult,
    ProviderAdapter,
    Target,
)
from gateway.proxy import read_first_chunk
from gateway.recorder import RequestRecord
from gateway.streaming import ChatStreamFormat, OpenAIStreamFormat, relay
from gateway.wire.chat_body import ChatInput
from gateway.wire.openai import ChatChunk, EmbeddingRequest, ImageRequest, JobHandle, encode
from shared.errors import KeyrelayError

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
R = TypeVar("R")
Answer = TypeVar("Answer", EmbeddingResult, ImageResult)

StreamOpen = tuple[ChatStream, AsyncIterator[ChatChunk], ChatChunk | None]
# One operation of the adapter the proxy picked for an attempt, bound to the request it sends.
Invocation = Callable[[ProviderAdapter, Target, Credential, CallOptions], Awaitable[R]]


def json_response(body: object, headers: dict[str, str], status: int = 200) -> Response[bytes]:
    return JsonAnswer(encode(body), headers, status)


def state_of(request: Request[Any, Any, Any]) -> GatewayState:
    """The gateway's shared objects, read from the app (as the guards do): the inference routes take
    no Litestar dependency, so no dependency is resolved and cleaned up around every request."""
    state: GatewayState = request.app.state.gw
    return state


def fail(state: GatewayState, record: RequestRecord, exc: KeyrelayError) -> Response[bytes]:
    """Record the failed request and answer in the contract's error shape, with routing headers."""
    state.recorder.record(
        record.finish(
            status=exc.status, error_code=exc.code, stream_outcome="upstream_error" if record.stream else None
        )
    )
    response = error_response(exc, record.request_id)
    for key, value in response_headers(record, exc.headers).items():
        response.headers.setdefault(key, value)
    return response


def chat_of(request: ChatInput) -> Invocation[ChatResult]:
    return lambda adapter, target, cred, opts: adapter.chat(request, target, cred, opts)


def embed_of(request: EmbeddingRequest) -> Invocation[EmbeddingResult]:
    return lambda adapter, target, cred, opts: adapter.embed(request, target, cred, opts)


def images_of(request: ImageRequest) -> Invocation[ImageResult]:
    return lambda adapter, target, cred, opts: adapter.images(request, target, cred, opts)


async def call_upstream(
    state: GatewayState,
    record: RequestRecord,
    body: dict[str, Any],
    headers: Mapping[str, str],
    operation: Invocation[R],
    opts: CallOptions,
) -> R:
    """Plan and run a non-streaming call: `operation` (see `chat_of`...) on each attempt's adapter.

    `body` is the client's JSON, read by routing; the adapters get the request `operation` is
    bound to (each adapter sends the target's model, whatever the body says)."""
    plan = await state.proxy.plan(record.principal, body, headers)

    async def call(
        adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
    ) -> R:
        del payload
        return await operation(adapter, target, cred, options)

    return await state.proxy.run(record, plan, body, call, opts)


async def open_stream(
    state: GatewayState, record: RequestRecord, request: ChatInput, headers: Mapping[str, str], opts: CallOptions
) -> StreamOpen:
    """Plan and open a stream; the first chunk is read inside the attempt, so it can still fail over."""
    body = request.body
    plan = await state.proxy.plan(record.principal, body, headers)

    async def call(
        adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
    ) -> StreamOpen:
        del payload
        stream = await adapter.open_stream(request, target, cred, options)
        iterator = stream.__aiter__()
        first = await read_first_chunk(stream, iterator, options.first_byte_timeout_s)
        return stream, iterator, first

    return await state.proxy.run(record, plan, body, call, opts)


async def stream_response(
    state: GatewayState,
    record: RequestRecord,
    request: ChatInput,
    headers: Mapping[str, str],
    fmt: ChatStreamFormat,
    opts: CallOptions,
) -> Response[bytes] | SseStream:
    record.stream = True
    try:
        stream, iterator, first = await open_stream(state, record, request, headers, opts)
    except KeyrelayError as exc:
        return fail(state, record, exc)
    content = relay(stream, iterator, first, record, state.recorder, fmt, opts.timeout_s)
    return SseStream(
        content, media_type="text/event-stream", headers={**SSE_HEADERS, **response_headers(record, stream.headers)}
    )


def include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options") or {}
    return bool(isinstance(options, dict) and options.get("include_usage"))


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any]) -> Response[bytes] | SseStream:
    gw = state_of(request)
    record, body = await begin(request, gw, "chat.completions")
    chat = ChatInput(body, await request.body())  # the bytes `begin` decoded: sent as they are where they can be
    try:
        chat.typed  # noqa: B018 - the shape is checked here, so a malformed body is our 400, never sent upstream
    except KeyrelayError as exc:
        return fail(gw, record, exc)
    opts = gw.proxy.options(include_usage=include_usage(body))
    if body.get("stream") is True:
        return await stream_response(gw, record, chat, request.headers, OpenAIStreamFormat(opts.include_usage), opts)
    try:
        result = await call_upstream(gw, record, body, request.headers, chat_of(chat), opts)
    except KeyrelayError as exc:
        return fail(gw, record, exc)
    record.mark_first_byte()
    record.set_usage(result.usage)
    record.capture_answer(result.body)
    gw.recorder.finish(record, status=200)
    return json_response(result.body, response_headers(record, result.headers))


async def answer(
    request: Request[Any, Any, Any],
    gw: GatewayState,
    endpoint: str,
    invocation_of: Callable[[dict[str, Any]], Invocation[Answer]],
    settle: Callable[[RequestRecord, dict[str, Any], Answer], None] | None = None,
) -> Response[bytes]:
    """One non-streaming call: the body relayed, its usage recorded (`settle`: what else the record takes)."""
    record, body = await begin(request, gw, endpoint)
    try:
        result = await call_upstream(gw, record, body, request.headers, invocation_of(body), gw.proxy.options())
    except KeyrelayError as exc:
        return fail(gw, record, exc)
    record.set_usage(result.usage)
    if settle is not None:
        settle(record, body, result)
    gw.recorder.finish(record, status=200)
    return json_response(result.body, response_headers(record, result.headers))


@post("/v1/embeddings", status_code=200)
async def embeddings(request: Request[Any, Any, Any]) -> Response[bytes]:
    gw = state_of(request)
    return await answer(request, gw, "embeddings", lambda body: embed_of(EmbeddingRequest.from_body(body)))


def image_cost(record: RequestRecord, body: dict[str, Any], result: ImageResult) -> None:
    """The provider's own cost when it gives one, else its credits at the integration's price per
    credit (priced with the usage), else the model's price per image."""
    if result.cost_usd is not None:
        record.cost_usd = record.list_cost_usd = result.cost_usd
    elif not result.usage.credits:
        record.charge_images(int(body.get("n") or 1))


@post("/v1/images/generations", status_code=200)
async def images(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Images; a media job still running when the wait ends (the client's `Prefer`, else the
    timeout) is answered as a handle for `GET /v1/jobs/{id}`."""
    gw = state_of(request)
    record, body = await begin(request, gw, "images.generations")
    opts = dataclasses.replace(gw.proxy.options(), job_wait_s=prefer_wait_s(request.headers.get("prefer")))
    invocation = images_of(ImageRequest.from_body(body))
    try:
        result = await call_upstream(gw, record, body, request.headers, invocation, opts)
        if result.job is not None and isinstance(result.body, JobHandle):
            return await keep_job(gw, record, body, result, result.body)
    except KeyrelayError as exc:
        return fail(gw, record, exc)
    record.set_usage(result.usage)
    image_cost(record, body, result)
    gw.recorder.finish(record, status=200)
    return json_response(result.body, response_headers(record, result.headers))


async def keep_job(
    gw: GatewayState, record: RequestRecord, body: dict[str, Any], result: ImageResult, handle: JobHandle
) -> Response[bytes]:
    """Keep the job for `GET /v1/jobs/{id}` and answer its handle; its record waits for the end."""
    entry = handle_entry(record, body, result, handle.status)
    await gw.jobs.create(record.principal, entry)
    gw.recorder.record(entry.record, record.principal)
    answer = JobHandle(id=entry.id, status=entry.status, provider=handle.provider)
    return json_response(answer, response_headers(record, result.headers))


ROUTES = [chat_completions, embeddings, images]
