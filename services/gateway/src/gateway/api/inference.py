"""OpenAI-compatible inference endpoints. Thin: edge checks, then the proxy use case."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.response import Stream
from shared.errors import KeyrelayError

from gateway.api.edge import bearer, begin, request_id, response_headers
from gateway.api.errors import error_response
from gateway.api.state import GatewayState
from gateway.providers.base import CallOptions, ChatStream, Credential, ProviderAdapter, Target
from gateway.proxy import read_first_chunk
from gateway.recorder import RequestRecord
from gateway.routing.resolve import routable_names
from gateway.streaming import OpenAIStreamFormat, StreamFormat, relay

_encode = msgspec.json.Encoder().encode
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

StreamOpen = tuple[ChatStream, Any, dict[str, Any] | None]


def _json(body: Any, headers: dict[str, str], status: int = 200) -> Response[bytes]:
    return Response(_encode(body), status_code=status, media_type="application/json", headers=headers)


async def _fail(state: GatewayState, record: RequestRecord, exc: KeyrelayError) -> Response[bytes]:
    state.recorder.record(
        record.finish(
            status=exc.status, error_code=exc.code, stream_outcome="upstream_error" if record.stream else None
        )
    )
    response = error_response(exc, record.request_id)
    response.headers.update(
        {k: v for k, v in response_headers(record, exc.headers).items() if k not in response.headers}
    )
    return response


async def open_stream(
    state: GatewayState, record: RequestRecord, body: dict[str, Any], opts: CallOptions
) -> StreamOpen:
    plan = await state.proxy.plan(record.principal, body, None)
    record.virtual_model = plan.virtual_model

    async def call(
        adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
    ) -> StreamOpen:
        stream = await adapter.open_stream(payload, target, cred, options)
        iterator = stream.__aiter__()
        first = await read_first_chunk(stream, iterator, options.first_byte_timeout_s)
        return stream, iterator, first

    return await state.proxy.run(record, plan, body, call, opts)


async def stream_response(
    state: GatewayState, record: RequestRecord, body: dict[str, Any], fmt: StreamFormat, opts: CallOptions
) -> Response[bytes] | Stream:
    record.stream = True
    try:
        stream, iterator, first = await open_stream(state, record, body, opts)
    except KeyrelayError as exc:
        return await _fail(state, record, exc)
    content = relay(stream, iterator, first, record, state.recorder, fmt, opts.timeout_s)
    headers = {**SSE_HEADERS, **response_headers(record, stream.headers)}
    return Stream(content, media_type="text/event-stream", headers=headers)


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes] | Stream:
    record, body = await begin(request, gw, "chat.completions")
    stream_options = body.get("stream_options") or {}
    include_usage = bool(isinstance(stream_options, dict) and stream_options.get("include_usage"))
    opts = gw.proxy.options(include_usage=include_usage)
    if body.get("stream") is True:
        return await stream_response(gw, record, body, OpenAIStreamFormat(include_usage), opts)
    try:
        plan = await gw.proxy.plan(record.principal, body, None)
        record.virtual_model = plan.virtual_model

        async def call(
            adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
        ) -> Any:
            return await adapter.chat(payload, target, cred, options)

        result = await gw.proxy.run(record, plan, body, call, opts)
    except KeyrelayError as exc:
        return await _fail(gw, record, exc)
    record.mark_first_byte()
    record.set_usage(result.usage)
    gw.recorder.record(record.finish(status=200))
    return _json(result.body, response_headers(record, result.headers))


@post("/v1/embeddings", status_code=200)
async def embeddings(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    record, body = await begin(request, gw, "embeddings")
    try:
        plan = await gw.proxy.plan(record.principal, body, None)

        async def call(
            adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
        ) -> Any:
            return await adapter.embed(payload, target, cred, options)

        result = await gw.proxy.run(record, plan, body, call, gw.proxy.options())
    except KeyrelayError as exc:
        return await _fail(gw, record, exc)
    record.set_usage(result.usage)
    gw.recorder.record(record.finish(status=200))
    return _json(result.body, response_headers(record, result.headers))


@post("/v1/images/generations", status_code=200)
async def images(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    record, body = await begin(request, gw, "images.generations")
    try:
        plan = await gw.proxy.plan(record.principal, body, None)

        async def call(
            adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
        ) -> Any:
            return await adapter.images(payload, target, cred, options)

        result = await gw.proxy.run(record, plan, body, call, gw.proxy.options())
    except KeyrelayError as exc:
        return await _fail(gw, record, exc)
    record.set_usage(result.usage)
    if result.cost_usd is not None:
        record.cost_usd = result.cost_usd
    gw.recorder.record(record.finish(status=200))
    return _json(result.body, response_headers(record, result.headers))


@get("/v1/models")
async def list_models(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    rid = request_id(request)
    principal = await gw.catalog.api_key(bearer(request))
    snapshot = await gw.catalog.snapshot(principal.org_id, principal.project_id)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": _owner(name)}
        for name in routable_names(snapshot, principal)
    ]
    return _json({"object": "list", "data": data}, {"x-request-id": rid})


def _owner(name: str) -> str:
    if name.startswith("@"):
        return name[1:].split("/", 1)[0]
    return name.split("/", 1)[0] if "/" in name else "keyrelay"


ROUTES = [chat_completions, embeddings, images, list_models]
