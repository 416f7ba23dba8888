"""Cohere: `{root}/cohere` + `/v2/chat`, `/v2/embed`, `/v1/models`. Errors are `{"id", "message"}`."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.providers.answers import count_words, embedding_of, plan_answer
from tests.fakes.providers.families import cohere_wire as wire
from tests.fakes.providers.families.base import Family, bearer
from tests.fakes.providers.families.openai_compat import prompt_from_messages
from tests.fakes.providers.faults import ErrorKind, apply_faults, parse_faults
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object, send_json
from tests.fakes.providers.sse import send_stream

BASE = "/cohere"
MODELS = ("command-a-03-2025", "command-a-reasoning-08-2025", "command-r-08-2024", "embed-v4.0")
_ROLES = frozenset({"system", "user", "assistant", "tool"})
_ERRORS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.AUTH_MISSING: (401, "no api key supplied"),
    ErrorKind.AUTH_INVALID: (401, "invalid api token"),
    ErrorKind.BAD_REQUEST: (400, "invalid request"),
    ErrorKind.NOT_FOUND: (
        404,
        "model not found, make sure the correct model ID was used and that you have access to the model.",
    ),
    ErrorKind.RATE_LIMITED: (429, "You are past the per minute request limit, please wait and try again later."),
    ErrorKind.QUOTA: (402, "Please add or update your payment method at https://dashboard.cohere.com/billing"),
    ErrorKind.SERVER_ERROR: (500, "internal server error, this has been reported to our developers"),
    ErrorKind.UNAVAILABLE: (503, "service unavailable"),
    ErrorKind.CONTEXT_LENGTH: (
        400,
        (
            "too many tokens: total number of tokens in the prompt cannot exceed 256000 - "
            "received 262144. Try using a shorter prompt, or enabling prompt truncating."
        ),
    ),
}
_ERRORS[ErrorKind.RATE_LIMITED_NO_HINT] = _ERRORS[ErrorKind.RATE_LIMITED]
_ERRORS[ErrorKind.OVERLOADED] = _ERRORS[ErrorKind.UNAVAILABLE]
_ERRORS[ErrorKind.CONTENT_FILTER] = _ERRORS[ErrorKind.BAD_REQUEST]


def cohere_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    status, default = _ERRORS[kind]
    return json_response({"id": str(uuid.uuid4()), "message": message or default}, status=status)


def request_problem(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "invalid request: model must be specified"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "invalid request: messages must not be empty"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"invalid request: messages[{i}].role must be one of system, user, assistant, tool"
    if body.get("tool_choice") not in {None, "REQUIRED", "NONE"}:
        return "invalid request: tool_choice must be one of REQUIRED, NONE"
    return None


def _denied(request: web.Request) -> web.Response | None:
    key = bearer(request)
    ok = state_of(request).key_ok("cohere", key)
    mark_auth(request, ok)
    if ok:
        return None
    return cohere_error(ErrorKind.AUTH_INVALID if key else ErrorKind.AUTH_MISSING)


async def _admit(request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
    if (denied := _denied(request)) is not None:
        return {}, denied
    body = await read_json_object(request)
    if body is None:
        return {}, cohere_error(ErrorKind.BAD_REQUEST, "invalid request: body must be valid JSON")
    return body, None


async def chat(request: web.Request) -> web.StreamResponse:
    body, refused = await _admit(request)
    if refused is not None:
        return refused
    if (problem := request_problem(body)) is not None:
        return cohere_error(ErrorKind.BAD_REQUEST, problem)
    model, state = str(body["model"]), state_of(request)
    faults = parse_faults(model)
    if (early := await apply_faults(request, faults, cohere_error, state, model)) is not None:
        return early
    prompt = dataclasses.replace(prompt_from_messages(body), tools_allowed=body.get("tool_choice") != "NONE")
    answer = plan_answer(prompt)
    if body.get("stream"):
        return await send_stream(request, wire.stream_plan(answer), faults, state, {})
    return await send_json(request, wire.chat_body(answer), faults)


async def embed(request: web.Request) -> web.StreamResponse:
    body, refused = await _admit(request)
    if refused is not None:
        return refused
    texts = body.get("texts")
    if not isinstance(body.get("model"), str) or not isinstance(texts, list):
        return cohere_error(ErrorKind.BAD_REQUEST, "invalid request: model and texts must be specified")
    if "input_type" not in body:
        return cohere_error(ErrorKind.BAD_REQUEST, "invalid request: input_type must be specified")
    faults = parse_faults(body["model"])
    if (early := await apply_faults(request, faults, cohere_error, state_of(request), body["model"])) is not None:
        return early
    dims = int(body.get("output_dimension") or 1536)
    words = sum(count_words(str(t)) for t in texts)
    out = {
        "id": str(uuid.uuid4()),
        "response_type": "embeddings_by_type",
        "texts": texts,
        "embeddings": {"float": [embedding_of(str(t), dims) for t in texts]},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": words}},
    }
    return await send_json(request, out, faults)


def _model_object(model: str) -> dict[str, Any]:
    return {
        "name": model,
        "endpoints": ["embed"] if model.startswith("embed") else ["chat"],
        "finetuned": False,
        "context_length": 256000,
        "is_deprecated": False,
        "default_endpoints": [],
    }


async def list_models(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    return json_response({"models": [_model_object(m) for m in MODELS], "next_page_token": ""})


async def get_model(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    model = request.match_info["model"]
    if model not in MODELS:
        return cohere_error(ErrorKind.NOT_FOUND, f"model '{model}' not found")
    return json_response(_model_object(model))


def register(router: web.UrlDispatcher) -> None:
    router.add_post(f"{BASE}/v2/chat", chat)
    router.add_post(f"{BASE}/v2/embed", embed)
    router.add_get(f"{BASE}/v1/models", list_models)
    router.add_get(f"{BASE}/v1/models/{{model}}", get_model)


FAMILY = Family("cohere", BASE, register)
