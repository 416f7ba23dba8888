"""Pollo: `{root}/pollo/api/platform` + `POST /generation/{brand}/{model}` (or
`/v1/generation/{brand}/{model}/video`) and `GET /generation/{taskId}/status`; `x-api-key` auth.

Generations move waiting -> processing -> succeed by polls (`failed` + `failMsg` for models with
`fault-job-fail`); `webhookUrl` gets signed deliveries (X-Webhook-Id/-Timestamp/-Signature,
base64 HMAC-SHA256 over `{id}.{timestamp}.{body}` with the base64-decoded secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind, FaultKind, apply_faults, parse_faults
from tests.fakes.providers.jobs import Phase, deliver_webhook, poll
from tests.fakes.providers.media import file_url
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object
from tests.fakes.providers.state import Job

if TYPE_CHECKING:
    from tests.fakes.providers.state import FakeState

BASE = "/pollo/api/platform"
_ERRORS: dict[ErrorKind, tuple[int, str, str]] = {
    ErrorKind.AUTH_MISSING: (401, "UNAUTHORIZED", "Missing API key"),
    ErrorKind.AUTH_INVALID: (401, "UNAUTHORIZED", "Invalid API key"),
    ErrorKind.BAD_REQUEST: (400, "BAD_REQUEST", "Invalid input"),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND", "Task not found"),
    ErrorKind.RATE_LIMITED: (429, "TOO_MANY_REQUESTS", "Too many requests"),
    ErrorKind.QUOTA: (403, "FORBIDDEN", "Not enough credits"),
    ErrorKind.SERVER_ERROR: (500, "INTERNAL_SERVER_ERROR", "Internal server error"),
    ErrorKind.UNAVAILABLE: (503, "SERVICE_UNAVAILABLE", "Service unavailable"),
}
for _alias, _target in (
    (ErrorKind.RATE_LIMITED_NO_HINT, ErrorKind.RATE_LIMITED),
    (ErrorKind.OVERLOADED, ErrorKind.UNAVAILABLE),
    (ErrorKind.CONTEXT_LENGTH, ErrorKind.BAD_REQUEST),
    (ErrorKind.CONTENT_FILTER, ErrorKind.BAD_REQUEST),
):
    _ERRORS[_alias] = _ERRORS[_target]
_STATUS = {Phase.QUEUED: "waiting", Phase.RUNNING: "processing", Phase.DONE: "succeed"}


def pollo_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    status, code, default = _ERRORS[kind]
    body: dict[str, Any] = {"code": code, "message": default}
    if status == 400:
        body["issues"] = [{"message": message or default}]
    elif message:
        body["message"] = message
    headers = {"retry-after": str(RETRY_AFTER_S)} if kind is ErrorKind.RATE_LIMITED else {}
    return json_response(body, status=status, headers=headers)


def sign(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret)
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _status_body(request: web.Request, job: Job, phase: Phase) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    failed = phase is Phase.DONE and job.fail
    generation = {
        "id": f"gen_{job.id[:8]}",
        "status": "failed" if failed else _STATUS[phase],
        "failMsg": "Generation failed" if failed else None,
        "url": file_url(request, f"{job.id}.mp4") if phase is Phase.DONE and not failed else None,
        "mediaType": "video",
        "createdDate": now,
        "updatedDate": now,
    }
    return {"taskId": job.id, "credit": 12.5, "generations": [generation]}


def _webhook_renderer(request: web.Request, state: FakeState) -> Any:
    def render(job: Job) -> tuple[bytes, dict[str, str]]:
        body = msgspec.json.encode(_status_body(request, job, Phase.DONE))
        webhook_id, timestamp = "msg_" + secrets.token_hex(8), str(int(time.time()))
        signature = sign(state.options.pollo_webhook_secret, webhook_id, timestamp, body)
        return body, {
            "content-type": "application/json",
            "X-Webhook-Id": webhook_id,
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": signature,
        }

    return render


def _denied(request: web.Request) -> web.Response | None:
    key = request.headers.get("x-api-key")
    ok = state_of(request).key_ok("pollo", key)
    mark_auth(request, ok)
    if ok:
        return None
    return pollo_error(ErrorKind.AUTH_INVALID if key else ErrorKind.AUTH_MISSING)


async def submit(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    body = await read_json_object(request) or {}
    task_input = body.get("input")
    if not isinstance(task_input, dict) or not (task_input.get("prompt") or task_input.get("image")):
        return pollo_error(ErrorKind.BAD_REQUEST, "input.prompt: Required")
    model = f"{request.match_info['brand']}/{request.match_info['model']}"
    state, faults = state_of(request), parse_faults(model)
    if (early := await apply_faults(request, faults, pollo_error, state, model)) is not None:
        return early
    job = Job(
        id=secrets.token_hex(12),
        provider="pollo",
        app=model,
        payload=task_input,
        webhook_url=str(body.get("webhookUrl") or "") or None,
        fail=FaultKind.JOB_FAIL in faults,
    )
    state.jobs[job.id] = job
    if job.webhook_url:
        state.spawn(deliver_webhook(job.webhook_url, job, state, _webhook_renderer(request, state)))
    return json_response({"code": "SUCCESS", "message": "success", "data": {"taskId": job.id, "status": "waiting"}})


async def status(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    state = state_of(request)
    job = state.jobs.get(request.match_info["task_id"])
    if job is None or job.provider != "pollo":
        return pollo_error(ErrorKind.NOT_FOUND)
    phase = poll(job, state)
    return json_response(_status_body(request, job, phase))


def register(router: web.UrlDispatcher) -> None:
    router.add_post(BASE + "/generation/{brand}/{model}", submit)
    router.add_post(BASE + "/v1/generation/{brand}/{model}/video", submit)
    router.add_get(BASE + "/generation/{task_id}/status", status)


FAMILY = Family("pollo", BASE, register)
