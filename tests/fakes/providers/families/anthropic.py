"""Anthropic Messages: `{root}/anthropic` + `/v1/messages`, `/v1/messages/count_tokens`, `/v1/models`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tests.fakes.providers.answers import new_id, plan_answer
from tests.fakes.providers.families import anthropic_wire as wire
from tests.fakes.providers.families.base import Family, bearer
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind, ErrorRenderer, apply_faults, parse_faults
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object, send_json
from tests.fakes.providers.sse import send_stream

if TYPE_CHECKING:
    from aiohttp import web

BASE = "/anthropic"
_VERSION = re.compile(r"^20\d\d-\d\d-\d\d$")  # 2023-06-01 is the stable one; newer SDKs send later dates
VERTEX_VERSION = "vertex-2023-10-16"
MID_CONVERSATION_SYSTEM_MODELS = frozenset({"claude-opus-4-8"})
MODELS = ("claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-sonnet-5", "claude-opus-5")

_ERRORS: dict[ErrorKind, tuple[int, str, str]] = {
    ErrorKind.AUTH_MISSING: (401, "authentication_error", "x-api-key header is required"),
    ErrorKind.AUTH_INVALID: (401, "authentication_error", "invalid x-api-key"),
    ErrorKind.BAD_REQUEST: (400, "invalid_request_error", "invalid request"),
    ErrorKind.NOT_FOUND: (404, "not_found_error", "model: not found"),
    ErrorKind.RATE_LIMITED: (
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    ),
    ErrorKind.QUOTA: (
        402,
        "billing_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade.",
    ),
    ErrorKind.SERVER_ERROR: (500, "api_error", "Internal server error"),
    ErrorKind.UNAVAILABLE: (503, "api_error", "Service Unavailable"),
    ErrorKind.OVERLOADED: (529, "overloaded_error", "Overloaded"),
    ErrorKind.CONTEXT_LENGTH: (400, "invalid_request_error", "prompt is too long: 215013 tokens > 200000 maximum"),
    ErrorKind.CONTENT_FILTER: (400, "invalid_request_error", "Output blocked by content filtering policy"),
}


def limit_headers(exhausted: bool) -> dict[str, str]:
    """`anthropic-ratelimit-*` with RFC 3339 resets."""
    reset = (datetime.now(UTC) + timedelta(seconds=RETRY_AFTER_S)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers: dict[str, str] = {}
    for name, limit in (("requests", 50), ("tokens", 80000), ("input-tokens", 40000), ("output-tokens", 8000)):
        headers[f"anthropic-ratelimit-{name}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{name}-remaining"] = "0" if exhausted else str(limit - 1)
        headers[f"anthropic-ratelimit-{name}-reset"] = reset
    return headers


def anthropic_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    base = ErrorKind.RATE_LIMITED if kind is ErrorKind.RATE_LIMITED_NO_HINT else kind
    status, type_, default = _ERRORS[base]
    request_id = new_id("req_011", 10)
    headers = {"request-id": request_id}
    if base is ErrorKind.RATE_LIMITED:
        headers.update(limit_headers(True))
    if kind is ErrorKind.RATE_LIMITED:
        headers.update({"retry-after": str(RETRY_AFTER_S), "retry-after-ms": str(RETRY_AFTER_S * 1000)})
    body = {"type": "error", "error": {"type": type_, "message": message or default}, "request_id": request_id}
    return json_response(body, status=status, headers=headers)


def _system_turn_problem(messages: list[Any], i: int, model: str, *, vertex: bool) -> str | None:
    """Mid-conversation system messages: Claude Opus 4.8 on Anthropic's own API only, right after a
    user turn and either last or followed by an assistant turn."""
    if vertex or model not in MID_CONVERSATION_SYSTEM_MODELS:
        return (
            'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
            'parameter, not "system" as an input message role.'
        )
    before = messages[i - 1].get("role") if i > 0 and isinstance(messages[i - 1], dict) else None
    after = messages[i + 1].get("role") if i + 1 < len(messages) and isinstance(messages[i + 1], dict) else None
    if before != "user" or after not in {None, "assistant"}:
        return (
            f"messages.{i}: a system message must immediately follow a user message and be the last "
            "message or be followed by an assistant message"
        )
    return None


def _messages_problem(messages: Any, model: str = "", *, vertex: bool = False) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: Field required" if messages is None else "messages: at least one message is required"
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            if (problem := _system_turn_problem(messages, i, model, vertex=vertex)) is not None:
                return problem
            continue
        if role not in {"user", "assistant"}:
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if "content" not in message:
            return f"messages.{i}.content: Field required"
    if messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    return None


def request_problem(body: dict[str, Any], model: str, *, vertex: bool, strict_sampling: bool) -> str | None:
    """Anthropic's validation: required fields, roles, sampling rules; Vertex body differences."""
    if vertex and body.get("anthropic_version") != VERTEX_VERSION:
        return "anthropic_version: Input should be 'vertex-2023-10-16'"
    if vertex and "model" in body:
        return "model: Extra inputs are not permitted"
    if not vertex and not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 1:
        return "temperature: Input should be less than or equal to 1"
    if strict_sampling and temperature is not None and body.get("top_p") is not None:
        return "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    if (problem := _messages_problem(body.get("messages"), str(body.get("model") or model), vertex=vertex)) is not None:
        return problem
    return wire.signature_problem(body["messages"], thinking=wire.thinking_requested(body))


async def serve_messages(
    request: web.Request, body: dict[str, Any], model: str, errors: ErrorRenderer, *, vertex: bool
) -> web.StreamResponse:
    """Validate, apply faults and answer one Messages call (shared with Claude on Vertex)."""
    state = state_of(request)
    problem = request_problem(
        body, model, vertex=vertex, strict_sampling=state.options.anthropic_reject_temperature_and_top_p
    )
    if problem is not None:
        return errors(ErrorKind.BAD_REQUEST, problem)
    faults = parse_faults(model)
    if (early := await apply_faults(request, faults, errors, state, model)) is not None:
        return early
    answer = plan_answer(
        wire.prompt_from_messages(body), tool_id_prefix="toolu_", reasoning=wire.thinking_requested(body)
    )
    message_id = new_id("msg_vrtx_" if vertex else "msg_", 12)
    headers = {"request-id": new_id("req_011", 10), **({} if vertex else limit_headers(False))}
    cache = wire.prompt_cache(body, state.prompt_cache)
    if body.get("stream"):
        return await send_stream(request, wire.stream_plan(model, answer, message_id, cache), faults, state, headers)
    return await send_json(request, wire.message_body(model, answer, message_id, cache), faults, headers)


def _denied(request: web.Request) -> web.Response | None:
    """`x-api-key` (what BYOK clients send) or `Authorization: Bearer` (what newer SDKs send)."""
    key = request.headers.get("x-api-key") or bearer(request)
    ok = state_of(request).key_ok("anthropic", key)
    mark_auth(request, ok)
    if ok:
        return None
    return anthropic_error(ErrorKind.AUTH_INVALID if key else ErrorKind.AUTH_MISSING)


def _version_problem(request: web.Request) -> str | None:
    version = request.headers.get("anthropic-version")
    if version is None:
        return "anthropic-version: header is required"
    if not _VERSION.match(version):
        return f"anthropic-version: invalid version {version!r}"
    return None


async def _admit(request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
    if (denied := _denied(request)) is not None:
        return {}, denied
    if (problem := _version_problem(request)) is not None:
        return {}, anthropic_error(ErrorKind.BAD_REQUEST, problem)
    body = await read_json_object(request)
    if body is None:
        return {}, anthropic_error(ErrorKind.BAD_REQUEST, "There was an issue with your request body: invalid JSON")
    return body, None


async def messages(request: web.Request) -> web.StreamResponse:
    body, refused = await _admit(request)
    if refused is not None:
        return refused
    return await serve_messages(request, body, str(body.get("model") or ""), anthropic_error, vertex=False)


# `MessageCountTokensParams`: a Messages body without `max_tokens`, sampling, `stream` or `metadata`
COUNT_TOKENS_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "output_format",
        "context_management",
        "mcp_servers",
        "cache_control",
    }
)


def count_tokens_problem(body: dict[str, Any], *, vertex: bool) -> str | None:
    """What `/v1/messages/count_tokens` (and Vertex's `count-tokens:rawPredict`) refuses."""
    allowed = COUNT_TOKENS_FIELDS | ({"anthropic_version"} if vertex else set())
    if extra := sorted(set(body) - allowed):
        return f"{extra[0]}: Extra inputs are not permitted"
    if vertex and body.get("anthropic_version") != VERTEX_VERSION:
        return "anthropic_version: Input should be 'vertex-2023-10-16'"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    return _messages_problem(body.get("messages"), str(body["model"]), vertex=vertex)


def count_answer(body: dict[str, Any]) -> web.Response:
    """`{"input_tokens": N}`: N counts the words of the system prompt and every message."""
    return json_response({"input_tokens": wire.prompt_from_messages(body).words_in})


async def count_tokens(request: web.Request) -> web.StreamResponse:
    body, refused = await _admit(request)
    if refused is not None:
        return refused
    if (problem := count_tokens_problem(body, vertex=False)) is not None:
        return anthropic_error(ErrorKind.BAD_REQUEST, problem)
    model = str(body["model"])
    early = await apply_faults(request, parse_faults(model), anthropic_error, state_of(request), model)
    if early is not None:
        return early
    return count_answer(body)


def _model_object(model: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model,
        "display_name": model.replace("-", " ").title(),
        "created_at": "2026-05-01T00:00:00Z",
        "max_input_tokens": 200000,
        "max_tokens": 64000,
    }


async def list_models(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    data = [_model_object(m) for m in MODELS]
    return json_response({"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]})


async def get_model(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    model = request.match_info["model"]
    if model not in MODELS:
        return anthropic_error(ErrorKind.NOT_FOUND, f"model: {model}")
    return json_response(_model_object(model))


def register(router: web.UrlDispatcher) -> None:
    router.add_post(f"{BASE}/v1/messages", messages)
    router.add_post(f"{BASE}/v1/messages/count_tokens", count_tokens)
    router.add_get(f"{BASE}/v1/models", list_models)
    router.add_get(f"{BASE}/v1/models/{{model}}", get_model)


FAMILY = Family("anthropic", BASE, register)
