"""Record every request (minus header values) so tests can check what the gateway really sent."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from tests.fakes.providers.state import FakeState, RecordedRequest

STATE_KEY: web.AppKey[FakeState] = web.AppKey("fake_state", FakeState)
RECORD_KEY: web.RequestKey[RecordedRequest] = web.RequestKey("fake_record", RecordedRequest)
RECORDED_VALUES = frozenset({"anthropic-beta", "anthropic-version"})  # never secret
_URL_KEY_PARAMS = frozenset({"key", "api_key", "api-key", "apikey", "access_token", "token"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def state_of(request: web.Request) -> FakeState:
    return request.app[STATE_KEY]


def mark_auth(request: web.Request, ok: bool) -> None:
    """Note on the recorded request whether its credential was accepted."""
    record = request.get(RECORD_KEY)
    if record is not None:
        record.auth_ok = ok


async def _record(request: web.Request, state: FakeState) -> RecordedRequest:
    raw = await request.read()
    body: object = None
    form_fields: list[str] = []
    if request.content_type == "application/x-www-form-urlencoded":
        form_fields = sorted((await request.post()).keys())
    elif raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    url = str(request.rel_url)
    key_in_url = any(name.lower() in _URL_KEY_PARAMS for name in request.query) or any(
        secret in url for secret in state.secrets() if secret
    )
    return RecordedRequest(
        provider=request.path.strip("/").split("/", 1)[0],
        method=request.method,
        path=request.path,
        query=dict(request.query),
        header_names=sorted({name.lower() for name in request.headers}),
        header_values={
            name.lower(): value for name, value in request.headers.items() if name.lower() in RECORDED_VALUES
        },
        body=body,
        form_fields=form_fields,
        key_in_url=key_in_url,
        test_id=request.headers.get("x-test-id"),
        at=time.time(),
    )


@web.middleware
async def recording_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Append the request to the log before handling it, so hung or reset calls are recorded too."""
    if not request.path.startswith("/__"):
        state = state_of(request)
        record = await _record(request, state)
        request[RECORD_KEY] = record
        state.requests.append(record)
    return await handler(request)
