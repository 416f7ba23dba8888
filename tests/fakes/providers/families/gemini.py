"""Gemini API: `{root}/google/v1beta` + `/models/{m}:generateContent|:streamGenerateContent|:embedContent`.

Auth is `x-goog-api-key` (a `?key=` in the URL is accepted like upstream, and recorded as
`key_in_url`). gemini-3* models refuse a replayed `functionCall` part without its
`thoughtSignature`. `fault-content-filter` answers 200 with `promptFeedback.blockReason`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.providers.answers import embedding_of, plan_answer
from tests.fakes.providers.families import gemini_wire as wire
from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.google_rpc import gemini_error
from tests.fakes.providers.faults import ErrorKind, ErrorRenderer, FaultKind, apply_faults, parse_faults
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object, send_json
from tests.fakes.providers.sse import SseEvent, StreamPlan, send_stream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

BASE = "/google/v1beta"
MODELS = ("gemini-3.5-flash", "gemini-3.1-pro-preview", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001")
_SIGNATURE_MISSING = (
    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
    "correctly, and missing thought_signature may lead to degraded model performance. Additional data, function "
    "call `default_api:{name}` , position {position}. Please refer to "
    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)


def _signature_problem(contents: list[Any]) -> str | None:
    for position, content in enumerate(contents, start=1):
        calls = [p for p in content.get("parts") or [] if isinstance(p, dict) and "functionCall" in p]
        if content.get("role") == "model" and calls and not calls[0].get("thoughtSignature"):
            return _SIGNATURE_MISSING.format(name=calls[0]["functionCall"].get("name"), position=position)
    return None


def _part_problem(index: int, parts: list[Any]) -> str | None:
    for j, part in enumerate(parts):
        response = part.get("functionResponse") if isinstance(part, dict) else None
        if isinstance(response, dict) and not isinstance(response.get("response"), dict):
            return (
                f"Invalid value at 'contents[{index}].parts[{j}].function_response.response' "
                f"(type.googleapis.com/google.protobuf.Struct), {response.get('response')!r}"
            )
    return None


def request_problem(body: dict[str, Any], model: str, *, vertex: bool, require_signature: bool) -> str | None:
    """Gemini's validation: contents and roles (Vertex: role on every content), parts, signatures."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not content.get("parts"):
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
        role = content.get("role")
        if (role is None and vertex) or (role is not None and role not in {"user", "model"}):
            return "Please use a valid role: user, model."
        if (problem := _part_problem(i, content["parts"])) is not None:
            return problem
    if require_signature and model.startswith("gemini-3"):
        return _signature_problem(contents)
    return None


async def serve_generate(
    request: web.Request, body: dict[str, Any], model: str, action: str, errors: ErrorRenderer, *, vertex: bool
) -> web.StreamResponse:
    """Validate, apply faults and answer generateContent / streamGenerateContent (shared with Vertex)."""
    state = state_of(request)
    problem = request_problem(
        body, model, vertex=vertex, require_signature=state.options.gemini_require_thought_signature
    )
    if problem is not None:
        return errors(ErrorKind.BAD_REQUEST, problem)
    faults = parse_faults(model)
    if (early := await apply_faults(request, faults, errors, state, model)) is not None:
        return early
    answer = plan_answer(wire.prompt_from_request(body), reasoning=wire.thoughts_requested(body))
    shape = wire.GeminiShape(model, answer, vertex=vertex)
    streaming = action == "streamGenerateContent"
    if FaultKind.CONTENT_FILTER in faults:
        blocked = shape.blocked()
        if streaming and request.query.get("alt") == "sse":
            plan = StreamPlan([SseEvent.of(blocked)], 0, SseEvent(b"{"))
            return await send_stream(request, plan, faults, state, {})
        return await send_json(request, [blocked] if streaming else blocked, faults)
    if not streaming:
        return await send_json(request, shape.full(), faults)
    if request.query.get("alt") != "sse":
        return await send_json(request, shape.chunks(), faults)  # the JSON-array stream mode
    return await send_stream(request, wire.stream_plan(shape), faults, state, {})


def _denied(request: web.Request) -> web.Response | None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    ok = state_of(request).key_ok("google", key)
    mark_auth(request, ok)
    if ok:
        return None
    return gemini_error(ErrorKind.AUTH_INVALID if key else ErrorKind.AUTH_MISSING)


def _split(request: web.Request) -> tuple[str, str]:
    model, _, action = request.match_info["model_action"].rpartition(":")
    return model, action


async def _embed(request: web.Request, body: dict[str, Any], model: str, action: str) -> web.StreamResponse:
    faults = parse_faults(model)
    if (early := await apply_faults(request, faults, gemini_error, state_of(request), model)) is not None:
        return early
    dims = int(body.get("outputDimensionality") or 3072)
    if action == "embedContent":
        text = " ".join(str(p.get("text", "")) for p in (body.get("content") or {}).get("parts") or [])
        return await send_json(request, {"embedding": {"values": embedding_of(text, dims)}}, faults)
    texts = [
        " ".join(str(p.get("text", "")) for p in (r.get("content") or {}).get("parts") or [])
        for r in body.get("requests") or []
    ]
    return await send_json(request, {"embeddings": [{"values": embedding_of(t, dims)} for t in texts]}, faults)


async def _count(request: web.Request, body: dict[str, Any], _model: str, _action: str) -> web.StreamResponse:
    return json_response({"totalTokens": wire.prompt_from_request(body).words_in})


async def _generate(request: web.Request, body: dict[str, Any], model: str, action: str) -> web.StreamResponse:
    return await serve_generate(request, body, model, action, gemini_error, vertex=False)


_ACTIONS: dict[str, Callable[[web.Request, dict[str, Any], str, str], Awaitable[web.StreamResponse]]] = {
    "generateContent": _generate,
    "streamGenerateContent": _generate,
    "countTokens": _count,
    "embedContent": _embed,
    "batchEmbedContents": _embed,
}


async def model_action(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    model, action = _split(request)
    handler = _ACTIONS.get(action)
    if handler is None:
        return gemini_error(ErrorKind.NOT_FOUND, f"Method not found: {action}")
    body = await read_json_object(request)
    if body is None:
        return gemini_error(ErrorKind.BAD_REQUEST, "Invalid JSON payload received.")
    return await handler(request, body, model, action)


def _model_object(model: str) -> dict[str, Any]:
    methods = ["embedContent"] if "embedding" in model else ["generateContent", "countTokens"]
    return {
        "name": f"models/{model}",
        "displayName": model,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": methods,
        "temperature": 1,
        "maxTemperature": 2,
        "topP": 0.95,
        "topK": 64,
    }


async def list_models(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    return json_response({"models": [_model_object(m) for m in MODELS]})


async def get_model(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    model = request.match_info["model_action"]
    if model not in MODELS:
        return gemini_error(ErrorKind.NOT_FOUND, f"models/{model} is not found for API version v1beta.")
    return json_response(_model_object(model))


def register(router: web.UrlDispatcher) -> None:
    router.add_post(f"{BASE}/models/{{model_action}}", model_action)
    router.add_get(f"{BASE}/models", list_models)
    router.add_get(f"{BASE}/models/{{model_action}}", get_model)


FAMILY = Family("google", BASE, register)
