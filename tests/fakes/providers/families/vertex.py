"""Vertex AI: `{root}/vertex/v1/projects/{p}/locations/{loc}/publishers/{google|anthropic}/models/{m}:{action}`
plus the OAuth token endpoint `{root}/vertex-token/token` (RS256 JWT-bearer grant).

Every Vertex call needs `Authorization: Bearer <token issued here>`. Gemini bodies must set `role`
on every content; Claude bodies carry `anthropic_version: vertex-2023-10-16` and no `model`
(except token counting, `publishers/anthropic/models/count-tokens:rawPredict`, which names it).
Auth and quota errors are Google-shaped, Claude's own validation errors Anthropic-shaped.
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from tests.fakes.providers.families.anthropic import (
    anthropic_error,
    count_answer,
    count_tokens_problem,
    serve_messages,
)
from tests.fakes.providers.families.base import Family, bearer
from tests.fakes.providers.families.gemini import serve_generate
from tests.fakes.providers.families.google_rpc import vertex_error
from tests.fakes.providers.faults import ErrorKind
from tests.fakes.providers.media import root_of
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object
from tests.fakes.providers.service_accounts import JWT_BEARER, InvalidGrantError, verify_assertion

BASE = "/vertex/v1"
TOKEN_PATH = "/vertex-token/token"
_MODEL_ROUTE = BASE + "/projects/{project}/locations/{location}/publishers/{publisher}/models/{model_action}"
_GOOGLE_SHAPED = frozenset(
    {
        ErrorKind.AUTH_MISSING,
        ErrorKind.AUTH_INVALID,
        ErrorKind.RATE_LIMITED,
        ErrorKind.RATE_LIMITED_NO_HINT,
        ErrorKind.QUOTA,
        ErrorKind.SERVER_ERROR,
        ErrorKind.UNAVAILABLE,
    }
)


def claude_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    """Claude on Vertex: Google's front end answers auth/quota/server errors, the model the rest."""
    return vertex_error(kind, message) if kind in _GOOGLE_SHAPED else anthropic_error(kind, message)


def _denied(request: web.Request) -> web.Response | None:
    token = bearer(request)
    ok = state_of(request).token_ok(token)
    mark_auth(request, ok)
    if ok:
        return None
    return vertex_error(ErrorKind.AUTH_INVALID if token else ErrorKind.AUTH_MISSING)


async def publisher_model(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    model, _, action = request.match_info["model_action"].rpartition(":")
    publisher = request.match_info["publisher"]
    body = await read_json_object(request)
    if body is None:
        return vertex_error(ErrorKind.BAD_REQUEST, "Invalid JSON payload received.")
    if publisher == "google" and action in {"generateContent", "streamGenerateContent"}:
        return await serve_generate(request, body, model, action, vertex_error, vertex=True)
    if publisher == "anthropic" and model == "count-tokens" and action == "rawPredict":
        if (problem := count_tokens_problem(body, vertex=True)) is not None:
            return anthropic_error(ErrorKind.BAD_REQUEST, problem)
        return count_answer(body)
    if publisher == "anthropic" and action in {"rawPredict", "streamRawPredict"}:
        if action == "streamRawPredict" and not body.get("stream"):
            return anthropic_error(ErrorKind.BAD_REQUEST, 'stream: streamRawPredict requires "stream": true')
        return await serve_messages(request, body, model, claude_error, vertex=True)
    return vertex_error(ErrorKind.NOT_FOUND, f"Publisher Model `publishers/{publisher}/models/{model}` not found.")


def _grant_error(error: str, description: str) -> web.Response:
    return json_response({"error": error, "error_description": description}, status=400)


async def token(request: web.Request) -> web.Response:
    """Google's token endpoint for the JWT-bearer grant: verify the signed assertion, mint a token."""
    form = await request.post()
    grant, assertion = form.get("grant_type"), form.get("assertion")
    state = state_of(request)
    if grant != JWT_BEARER:
        mark_auth(request, ok=False)
        return _grant_error("unsupported_grant_type", f"Invalid grant_type: {grant!s}")
    if not isinstance(assertion, str) or not assertion:
        mark_auth(request, ok=False)
        return _grant_error("invalid_request", "Missing required parameter: assertion")
    try:
        verify_assertion(assertion, state.service_accounts, root_of(request) + TOKEN_PATH)
    except InvalidGrantError as exc:
        mark_auth(request, ok=False)
        return _grant_error(exc.error, exc.description)
    mark_auth(request, ok=True)
    access_token = "ya29.c.fake" + secrets.token_urlsafe(40)
    lifetime = state.options.token_expires_in
    state.tokens[access_token] = time.time() + lifetime
    return json_response({"access_token": access_token, "expires_in": lifetime, "token_type": "Bearer"})


def register(router: web.UrlDispatcher) -> None:
    router.add_post(_MODEL_ROUTE, publisher_model)


def register_token(router: web.UrlDispatcher) -> None:
    router.add_post(TOKEN_PATH, token)


FAMILY = Family("vertex", BASE, register)
TOKEN_FAMILY = Family("vertex-token", TOKEN_PATH, register_token)
