"""Media jobs (FAL, Pollo) answered as a handle, fetched later with `GET /v1/jobs/{job_id}`.

A handle's job is kept in the JetStream KV bucket `keyrelay_jobs` (7 days, the operator's
`keyrelay provision`) under `<org id>.<project id>.<job id>`: the key is built from the caller's
authenticated API key, so another project never reads it, even with a valid id. The job id is
`job_` + 192 random bits (never the provider's id, which may be guessable). The entry holds the
route it was served by (integration, upstream model, prices), the provider's job id and poll URLs,
and the request's activity record as answered (`job_status` queued/running): never a credential.

Each `GET` of a job still running polls the provider once, with the integration's key revealed by
keyvault like any call. When the job has ended, the entry keeps its result (compare-and-set: one
reader wins) and the winner publishes the request's final record (same request id, `job_status`
succeeded/failed, its cost at the integration's price), which replaces the handle's record in the
activity store.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from gateway.project_kv import ProjectBucket
from gateway.providers.base import CallOptions, Credential, ImageResult, Target, UpstreamJob
from gateway.providers.jobs import JobState
from gateway.recorder import RequestRecord
from gateway.wire.openai import ImagesResponse
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.activity import JobStatus, RequestFinished
from shared.messages.catalog import ApiKeyPrincipal, RouteTarget
from shared.subjects import JOBS_BUCKET

log = get_logger("keyrelay.gateway.jobs")
_ID = re.compile(r"job_[A-Za-z0-9_-]{32}")
FAILED_MESSAGE = "the generation failed"


@runtime_checkable
class JobPoller(Protocol):
    """An adapter whose jobs can be polled again later (FAL, Pollo)."""

    async def poll_job(self, job: UpstreamJob, target: Target, cred: Credential, opts: CallOptions) -> JobState: ...


class JobError(msgspec.Struct, kw_only=True, frozen=True):
    code: str
    message: str


class JobEntry(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    created_at: datetime
    route: RouteTarget  # where the job runs and its prices: never a credential
    upstream: UpstreamJob
    images: int  # what the client asked for (`n`): priced per image when the provider gives no cost
    record: RequestFinished  # the request's record as answered with the handle
    status: JobStatus = "queued"
    result: ImagesResponse | None = None  # the OpenAI images response, once succeeded
    error: JobError | None = None


class JobView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/jobs/{job_id}`'s answer."""

    id: str
    status: JobStatus
    result: ImagesResponse | None = None
    error: JobError | None = None


_decode = msgspec.json.Decoder(JobEntry).decode


def new_job_id() -> str:
    return f"job_{secrets.token_urlsafe(24)}"


def not_found() -> KeyrelayError:
    return KeyrelayError("not_found", "no job with this id is kept for this project (jobs are kept 7 days)")


def view(entry: JobEntry) -> JobView:
    return JobView(id=entry.id, status=entry.status, result=entry.result, error=entry.error)


def public_status(state: JobState) -> Literal["queued", "running"]:
    return "running" if state.status == "running" else "queued"


class JobStore(ProjectBucket):
    IDS = _ID

    def __init__(self, nc: NatsClient) -> None:
        super().__init__(nc, JOBS_BUCKET, "job")

    async def create(self, principal: ApiKeyPrincipal, entry: JobEntry) -> None:
        key = self.key(principal, entry.id)
        if key is None:  # pragma: no cover - ids are ours
            raise KeyrelayError("internal_error", "unusable job id")
        try:
            await (await self._bucket()).create(key, msgspec.json.encode(entry))
        except (NatsError, TimeoutError) as exc:
            raise KeyrelayError("dependency_unavailable", "the job store is not available") from exc

    async def get(self, principal: ApiKeyPrincipal, job_id: str) -> tuple[JobEntry, int]:
        """The caller's project's job and its revision, or 404 `not_found` (whoever else's it is)."""
        key = self.key(principal, job_id)
        if key is None:
            raise not_found()
        kv = await self._bucket()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            raise not_found() from None
        except (NatsError, TimeoutError) as exc:
            raise KeyrelayError("dependency_unavailable", "the job store is not available") from exc
        if not entry.value or entry.revision is None:
            raise not_found()
        return _decode(entry.value), entry.revision

    async def update(self, principal: ApiKeyPrincipal, entry: JobEntry, revision: int) -> bool:
        """Replace the entry if nobody changed it since `revision`; False when another reader did."""
        key = self.key(principal, entry.id)
        if key is None:  # pragma: no cover - ids are ours
            return False
        try:
            await (await self._bucket()).update(key, msgspec.json.encode(entry), last=revision)
        except KeyWrongLastSequenceError:
            return False
        except (NatsError, TimeoutError) as exc:
            raise KeyrelayError("dependency_unavailable", "the job store is not available") from exc
        return True


def handle_entry(record: RequestRecord, body: dict[str, Any], result: ImageResult, status: str) -> JobEntry:
    """The entry of a job just answered as a handle (the request's record is its stand-in)."""
    assert result.job is not None  # noqa: S101 - only called for a handle
    assert record.served is not None  # noqa: S101 - a handle comes from a served attempt
    job_status: JobStatus = "running" if status == "running" else "queued"
    n = body.get("n")
    return JobEntry(
        id=new_job_id(),
        created_at=datetime.now(UTC),
        route=record.served,
        upstream=result.job,
        images=n if isinstance(n, int) and n > 0 else 1,
        record=msgspec.structs.replace(record.finish(status=200), job_status=job_status),
        status=job_status,
    )


def final_record(entry: JobEntry, state: JobState, cost: tuple[float, float], usage: Any) -> RequestFinished:
    """The request's record once its job ended: replaces the handle's record (same request id)."""
    elapsed = (datetime.now(UTC) - entry.created_at).total_seconds() * 1000
    failed = state.failed
    return msgspec.structs.replace(
        entry.record,
        status=502 if failed else 200,
        error_code="upstream_error" if failed else None,
        job_status="failed" if failed else "succeeded",
        usage=usage,
        cost_usd=cost[0],
        list_cost_usd=cost[1],
        latency_ms=round(entry.record.latency_ms + elapsed, 3),
    )


def ended_entry(entry: JobEntry, state: JobState) -> JobEntry:
    if state.failed or state.result is None:
        error = JobError(code="upstream_error", message=f"{entry.route.provider}: {FAILED_MESSAGE}")
        return msgspec.structs.replace(entry, status="failed", error=error)
    return msgspec.structs.replace(entry, status="succeeded", result=state.result)


def prefer_wait_s(prefer: str | None) -> float | None:
    """How long the client lets a media job be awaited (RFC 7240 `Prefer`): `respond-async` answers
    with a handle at once (after the first poll), `wait=<seconds>` caps the wait; else None (the
    attempt's timeout)."""
    if not prefer:
        return None
    wait: float | None = None
    for token in prefer.split(","):
        name, _, value = token.strip().partition("=")
        name = name.strip().lower()
        if name == "respond-async":
            return 0.0
        if name == "wait":
            with contextlib.suppress(ValueError):
                seconds = float(value.strip().strip('"'))
                if seconds >= 0:
                    wait = seconds
    return wait
