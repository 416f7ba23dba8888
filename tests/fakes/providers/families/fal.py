"""FAL queue: `{root}/fal/{owner}/{app}[/{subpath}]` submit, then status/result/cancel under
`{root}/fal/{owner}/{app}/requests/{id}` (never the sub-path). Auth is `Authorization: Key <key>`.

Status moves IN_QUEUE -> IN_PROGRESS -> COMPLETED by polls; `?fal_webhook=` delivers the result
(twice) instead. Apps whose path contains `fault-job-fail` complete with an error.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from aiohttp import web

from tests.fakes.providers.families.base import Family, scheme_credential
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind, FaultKind, apply_faults, parse_faults
from tests.fakes.providers.jobs import Phase, deliver_webhook, poll
from tests.fakes.providers.media import file_url, root_of
from tests.fakes.providers.recording import mark_auth, state_of
from tests.fakes.providers.respond import json_response, read_json_object
from tests.fakes.providers.state import Job

BASE = "/fal"
_ERRORS: dict[ErrorKind, tuple[int, Any]] = {
    ErrorKind.AUTH_MISSING: (401, "Missing authorization header."),
    ErrorKind.AUTH_INVALID: (401, "Invalid API key."),
    ErrorKind.BAD_REQUEST: (422, [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}]),
    ErrorKind.RATE_LIMITED: (429, "Concurrent request limit reached. Purchase credits to raise it."),
    ErrorKind.QUOTA: (
        403,
        "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.",
    ),
    ErrorKind.SERVER_ERROR: (500, "Internal server error"),
    ErrorKind.UNAVAILABLE: (503, "Service temporarily unavailable"),
    ErrorKind.CONTEXT_LENGTH: (422, "Prompt is too long."),
}
_ERRORS[ErrorKind.RATE_LIMITED_NO_HINT] = _ERRORS[ErrorKind.RATE_LIMITED]
_ERRORS[ErrorKind.OVERLOADED] = _ERRORS[ErrorKind.UNAVAILABLE]
_ERRORS[ErrorKind.CONTENT_FILTER] = _ERRORS[ErrorKind.BAD_REQUEST]
_ERROR_TYPES = {401: "unauthorized", 403: "forbidden", 422: "validation_error", 429: "rate_limited"}


def fal_error(kind: ErrorKind, message: str | None = None) -> web.Response:
    status, detail = _ERRORS[kind]
    headers = {"x-fal-error-type": _ERROR_TYPES.get(status, "internal_error")}
    if kind is ErrorKind.RATE_LIMITED:
        headers["retry-after"] = str(RETRY_AFTER_S)
    return json_response({"detail": message or detail}, status=status, headers=headers)


def _urls(request: web.Request, job: Job) -> dict[str, str]:
    base = f"{root_of(request)}{BASE}/{job.app}/requests/{job.id}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def _output(request: web.Request, job: Job) -> dict[str, Any]:
    prompt = str(job.payload.get("prompt", ""))
    if "video" in job.app:
        return {"video": {"url": file_url(request, f"{job.id}.mp4"), "content_type": "video/mp4", "file_size": 24}}
    image = {"url": file_url(request, f"{job.id}.png"), "width": 1024, "height": 768, "content_type": "image/png"}
    return {
        "images": [image],
        "seed": 42,
        "has_nsfw_concepts": [False],
        "prompt": prompt,
        "timings": {"inference": 0.12},
    }


def _webhook_renderer(request: web.Request) -> Any:
    def render(job: Job) -> tuple[bytes, dict[str, str]]:
        body: dict[str, Any] = {
            "request_id": job.id,
            "gateway_request_id": job.id,
            "status": "OK",
            "payload": _output(request, job),
            "error": None,
        }
        if job.fail:
            body.update(
                status="ERROR",
                payload={"detail": [{"msg": "Generation failed", "type": "runtime_error"}]},
                error="Generation failed",
            )
        return msgspec.json.encode(body), {"content-type": "application/json"}

    return render


def _denied(request: web.Request) -> web.Response | None:
    key = scheme_credential(request, "authorization", "Key")
    ok = state_of(request).key_ok("fal", key)
    mark_auth(request, ok)
    if ok:
        return None
    return fal_error(ErrorKind.AUTH_INVALID if key else ErrorKind.AUTH_MISSING)


async def submit(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    path = request.match_info["app_path"].strip("/").split("/")
    body = await read_json_object(request)
    if len(path) < 2 or body is None:
        return fal_error(ErrorKind.BAD_REQUEST, "Invalid request")
    if not body.get("prompt") and not body.get("image_url"):
        return fal_error(ErrorKind.BAD_REQUEST)
    state, app_path = state_of(request), "/".join(path)
    faults = parse_faults(app_path)
    if (early := await apply_faults(request, faults, fal_error, state, app_path)) is not None:
        return early
    job = Job(
        id=str(uuid.uuid4()),
        provider="fal",
        app="/".join(path[:2]),
        payload=body,
        webhook_url=request.query.get("fal_webhook"),
        fail=FaultKind.JOB_FAIL in faults,
    )
    state.jobs[job.id] = job
    if job.webhook_url:
        state.spawn(deliver_webhook(job.webhook_url, job, state, _webhook_renderer(request)))
    return json_response(
        {
            "request_id": job.id,
            "gateway_request_id": job.id,
            "status": "IN_QUEUE",
            "queue_position": 0,
            **_urls(request, job),
        },
        headers={"x-fal-request-id": job.id},
    )


def _job(request: web.Request) -> Job | None:
    job = state_of(request).jobs.get(request.match_info["request_id"])
    return job if job is not None and job.provider == "fal" else None


async def status(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    if (job := _job(request)) is None:
        return json_response({"detail": "Request not found"}, status=404)
    phase = poll(job, state_of(request))
    urls = _urls(request, job)
    if phase is Phase.QUEUED:
        return json_response(
            {"status": "IN_QUEUE", "queue_position": 1, "response_url": urls["response_url"]}, status=202
        )
    logs = [{"timestamp": "2026-08-01T10:00:00Z", "level": "INFO", "message": "Generating"}]
    if phase is Phase.RUNNING:
        return json_response({"status": "IN_PROGRESS", "logs": logs, "response_url": urls["response_url"]}, status=202)
    error = ("Generation failed", "runtime_error") if job.fail else (None, None)
    return json_response(
        {
            "status": "COMPLETED",
            "logs": logs,
            "metrics": {"inference_time": 3.1},
            "response_url": urls["response_url"],
            "error": error[0],
            "error_type": error[1],
        }
    )


async def result(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    if (job := _job(request)) is None:
        return json_response({"detail": "Request not found"}, status=404)
    if not job.completed:
        return json_response({"detail": "Request is still in progress"}, status=400)
    if job.fail:
        return json_response(
            {"detail": [{"msg": "Generation failed", "type": "runtime_error"}]},
            status=422,
            headers={"x-fal-error-type": "runtime_error"},
        )
    return json_response(_output(request, job), headers={"x-fal-request-id": job.id})


async def cancel(request: web.Request) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        return denied
    if (job := _job(request)) is None:
        return json_response({"status": "NOT_FOUND"}, status=404)
    if job.completed:
        return json_response({"status": "ALREADY_COMPLETED"}, status=400)
    job.cancelled = True
    return json_response({"status": "CANCELLATION_REQUESTED"}, status=202)


def register(router: web.UrlDispatcher) -> None:
    requests = BASE + "/{owner}/{app}/requests/{request_id}"
    router.add_get(f"{requests}/status", status)
    router.add_get(requests, result)
    router.add_put(f"{requests}/cancel", cancel)
    router.add_post(BASE + "/{app_path:.+}", submit)


FAMILY = Family("fal", BASE, register)
