"""Handlers shared by every OpenAI-compatible family: chat, embeddings, images, models."""

from __future__ import annotations

import base64
import struct
import time
from typing import TYPE_CHECKING, Any

from tests.fakes.providers.answers import (
    Prompt,
    ToolSpec,
    count_words,
    embedding_of,
    first_property,
    new_id,
    plan_answer,
    text_of,
)
from tests.fakes.providers.families.openai_wire import completion_body, stream_plan
from tests.fakes.providers.faults import ErrorKind, FaultKind, apply_faults, parse_faults
from tests.fakes.providers.media import TINY_PNG_B64, file_url
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object, send_json
from tests.fakes.providers.sse import send_stream

if TYPE_CHECKING:
    from aiohttp import web

    from tests.fakes.providers.families.openai_dialect import Dialect

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


def prompt_from_messages(body: dict[str, Any], tools_enabled: bool = True) -> Prompt:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    tools = tuple(
        ToolSpec(str(t["function"].get("name", "")), first_property(t["function"].get("parameters")))
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    )
    return Prompt(
        last_text=text_of(last.get("content")),
        last_is_user=last.get("role") == "user",
        words_in=sum(count_words(text_of(m.get("content"))) for m in messages),
        tools=tools,
        tools_allowed=tools_enabled and body.get("tool_choice") != "none",
    )


def embedding_inputs(raw: Any) -> list[str]:
    """`input` as texts: a string, a list of strings, a token list, or a list of token lists."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(x, int) for x in raw):
        return [" ".join(map(str, raw))]
    if isinstance(raw, list):
        return [x if isinstance(x, str) else " ".join(map(str, x)) for x in raw]
    return [str(raw)]


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in value)


def embeddings_problem(body: dict[str, Any]) -> str | None:
    """OpenAI's 400s for an embeddings request whose `input`, `dimensions` or `encoding_format` is invalid."""
    raw = body.get("input")
    if not (
        isinstance(raw, str)
        or _is_token_list(raw)
        or (isinstance(raw, list) and all(isinstance(x, str) or _is_token_list(x) for x in raw))
    ):
        return "Invalid type for 'input': expected a string, an array of strings or an array of tokens."
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= 3072):
        return "Invalid 'dimensions': expected an integer between 1 and 3072."
    if body.get("encoding_format") not in {None, "float", "base64"}:
        return "Invalid 'encoding_format': expected 'float' or 'base64'."
    return None


def images_problem(body: dict[str, Any]) -> str | None:
    """OpenAI's 400 for an images request whose `n` is not an integer between 1 and 10."""
    count = body.get("n")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10):
        return "Invalid 'n': expected an integer between 1 and 10."
    return None


def wants_reasoning(model: str) -> bool:
    return any(word in model.lower() for word in ("reason", "think"))


def chat_problem(body: dict[str, Any]) -> str | None:
    """OpenAI's own validation of a chat request (the families add theirs on top)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return (
            "[] is too short - 'messages'" if isinstance(messages, list) else "Missing required parameter: 'messages'."
        )
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            return (
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                f"'function', 'tool', and 'developer'. (messages[{i}].role)"
            )
        if role == "tool" and not message.get("tool_call_id"):
            return f"Missing parameter 'tool_call_id': messages with role 'tool' must have one. (messages[{i}])"
    return None


_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def openai_rules(body: dict[str, Any]) -> str | None:
    """OpenAI's own extra refusals: stream_options without stream, max_tokens on reasoning models."""
    if body.get("stream_options") is not None and not body.get("stream"):
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    if "max_tokens" in body and str(body.get("model", "")).startswith(_REASONING_PREFIXES):
        return (
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
        )
    return None


class OpenAICompatRoutes:
    """The routes of one OpenAI-compatible family, parameterised by its dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def register(self, router: web.UrlDispatcher) -> None:
        prefix, endpoints = self.dialect.base_path, self.dialect.endpoints
        if "chat" in endpoints:
            router.add_post(f"{prefix}/chat/completions", self.chat)
        if "embeddings" in endpoints:
            router.add_post(f"{prefix}/embeddings", self.embeddings)
        if "images" in endpoints:
            router.add_post(f"{prefix}/images/generations", self.images)
        if "responses" in endpoints:
            router.add_post(f"{prefix}/responses", self.responses)
        if "models" in endpoints:
            router.add_get(f"{prefix}/models", self.list_models)
            router.add_get(f"{prefix}/models/{{model:.+}}", self.get_model)

    # -- hooks a family (Azure) overrides --------------------------------------------------
    def denied(self, request: web.Request) -> web.Response | None:
        key = self.dialect.credential(request)
        ok = state_of(request).key_ok(self.dialect.name, key)
        mark_auth(request, ok)
        if ok:
            return None
        return self.dialect.errors(ErrorKind.AUTH_INVALID if key else ErrorKind.AUTH_MISSING)

    def precheck(self, request: web.Request) -> web.Response | None:
        """Request checks that come before the body is read (Azure's api-version)."""
        del request
        return None

    def model_of(self, request: web.Request, body: dict[str, Any]) -> str:
        del request
        return str(body.get("model") or "")

    def problem(self, request: web.Request, body: dict[str, Any]) -> str | None:
        del request
        return chat_problem(body) or self.dialect.validate(body)

    # -- handlers ------------------------------------------------------------------------------
    async def _admit(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        """Auth, then JSON parsing: the first failing check becomes the response."""
        if (denied := self.denied(request) or self.precheck(request)) is not None:
            return {}, denied
        body = await read_json_object(request)
        if body is None:
            return {}, self.dialect.errors(ErrorKind.BAD_REQUEST, _BAD_JSON)
        return body, None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        if (problem := self.problem(request, body)) is not None:
            return self.dialect.errors(ErrorKind.BAD_REQUEST, problem)
        model = self.model_of(request, body)
        faults = parse_faults(model)
        if FaultKind.CONTENT_FILTER in faults and self.dialect.content_filters:
            return self.dialect.errors(ErrorKind.CONTENT_FILTER)
        state = state_of(request)
        if (early := await apply_faults(request, faults, self.dialect.errors, state, model)) is not None:
            return early
        dialect = self.dialect.for_request(body)
        thinks = dialect.always_reasons or wants_reasoning(model)
        answer = plan_answer(prompt_from_messages(body, dialect.tools), reasoning=thinks)
        completion_id = new_id("chatcmpl-")
        headers = dialect.success_headers()
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            plan = stream_plan(dialect, model, answer, completion_id, include_usage)
            return await send_stream(request, plan, faults, state, headers)
        return await send_json(request, completion_body(dialect, model, answer, completion_id), faults, headers)

    async def responses(self, request: web.Request) -> web.StreamResponse:
        from tests.fakes.providers.families.openai_responses import create_response  # noqa: PLC0415 - it imports this

        return await create_response(self, request)

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        model, raw = self.model_of(request, body), body.get("input")
        if not model or raw in (None, "", []):
            return self.dialect.errors(ErrorKind.BAD_REQUEST, "'input' is a required property")
        if (problem := embeddings_problem(body)) is not None:
            return self.dialect.errors(ErrorKind.BAD_REQUEST, problem)
        faults = parse_faults(model)
        if (early := await apply_faults(request, faults, self.dialect.errors, state_of(request), model)) is not None:
            return early
        texts = embedding_inputs(raw)
        dims = int(body.get("dimensions") or 1536)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vector = embedding_of(text, dims)
            encoded: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        words = max(1, sum(count_words(t) for t in texts))
        out = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": words, "total_tokens": words}}
        return await send_json(request, out, faults, self.dialect.success_headers())

    async def images(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        model, prompt = self.model_of(request, body), body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self.dialect.errors(ErrorKind.BAD_REQUEST, "Missing required parameter: 'prompt'.")
        if (problem := images_problem(body)) is not None:
            return self.dialect.errors(ErrorKind.BAD_REQUEST, problem)
        faults = parse_faults(model)
        if (early := await apply_faults(request, faults, self.dialect.errors, state_of(request), model)) is not None:
            return early
        count = int(body.get("n") or 1)
        as_url = body.get("response_format") == "url"
        item = {"url": file_url(request, f"{new_id('img_', 6)}.png")} if as_url else {"b64_json": TINY_PNG_B64}
        words = count_words(prompt)
        out = {
            "created": int(time.time()),
            "data": [dict(item) for _ in range(count)],
            "usage": {
                "total_tokens": words + 272 * count,
                "input_tokens": words,
                "output_tokens": 272 * count,
                "input_tokens_details": {"text_tokens": words, "image_tokens": 0},
            },
        }
        return await send_json(request, out, faults, self.dialect.success_headers())

    async def list_models(self, request: web.Request) -> web.StreamResponse:
        if (denied := self.denied(request)) is not None:
            return denied
        data = [self._model_object(m) for m in self.dialect.models]
        return json_response({"object": "list", "data": data})

    async def get_model(self, request: web.Request) -> web.StreamResponse:
        if (denied := self.denied(request)) is not None:
            return denied
        model = request.match_info["model"]
        if model not in self.dialect.models:
            return self.dialect.errors(ErrorKind.NOT_FOUND, f"The model '{model}' does not exist")
        return json_response(self._model_object(model))

    def _model_object(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1_776_900_000, "owned_by": self.dialect.name}
