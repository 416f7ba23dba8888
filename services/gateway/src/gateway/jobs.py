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

A job nobody fetches finishes on its own (`gateway.job_sweeper`): beside the entry, a small
`pending.<org>.<project>.<job id>` marker lists it until it ended; every gateway replica scans the
markers and claims a due job by compare-and-set on the entry (its `next_poll_at` moves on with a
backoff), so one replica polls it at a time, and whoever sees it end first records it once.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError

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
    # for the background poller: catalog's word that the project is the org's (keyvault wants it for
    # the key; not a secret), when the next background poll is due, and how many there were
    project_proof: bytes = b""
    next_poll_at: datetime | None = None
    polls: int = 0

    @property
    def ended(self) -> bool:
        return self.status in ("succeeded", "failed")


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


PENDING = "pending"
_PENDING_SUBJECT = f"$KV.{JOBS_BUCKET}.{PENDING}.>"


class Pending(msgspec.Struct, kw_only=True, frozen=True):
    """A job still to finish, as the background poller finds it: whose it is and from which message on to scan."""

    org_id: str
    project_id: str
    job_id: str
    seq: int


class JobStore(ProjectBucket):
    IDS = _ID

    def __init__(self, nc: NatsClient) -> None:
        super().__init__(nc, JOBS_BUCKET, "job")
        self._stream = f"KV_{JOBS_BUCKET}"

    async def create(self, principal: ApiKeyPrincipal, entry: JobEntry) -> None:
        key = self.key(principal, entry.id)
        if key is None:  # pragma: no cover - ids are ours
            raise KeyrelayError("internal_error", "unusable job id")
        try:
            kv = await self._bucket()
            await kv.create(key, msgspec.json.encode(entry))
            await kv.put(f"{PENDING}.{key}", b"1")
        except (NatsError, TimeoutError) as exc:
            raise KeyrelayError("dependency_unavailable", "the job store is not available") from exc

    async def ended(self, principal: ApiKeyPrincipal, job_id: str) -> None:
        """The job ended (recorded): its pending marker goes (best effort: the poller drops it anyway)."""
        key = self.key(principal, job_id)
        if key is not None:
            with contextlib.suppress(NatsError, TimeoutError):
                await (await self._bucket()).delete(f"{PENDING}.{key}")

    async def pending(self, start: int, limit: int) -> tuple[list[Pending], int]:
        """Up to `limit` live pending markers from stream sequence `start` on (direct gets, no
        consumer), and the sequence after the last message looked at."""
        found: list[Pending] = []
        seq = max(start, 1)
        await self._bucket()
        for _ in range(limit):
            try:
                msg = await self._js.get_msg(self._stream, seq=seq, subject=_PENDING_SUBJECT, next=True, direct=True)
            except NotFoundError:
                break
            except (NatsError, TimeoutError) as exc:
                raise KeyrelayError("dependency_unavailable", "the job store is not available") from exc
            seq = (msg.seq or seq) + 1
            if (msg.headers or {}).get("KV-Operation") or not msg.data or not msg.subject:
                continue  # a deleted or purged marker: that job ended
            parts = msg.subject.split(".")
            if len(parts) == 6:  # $KV.<bucket>.pending.<org>.<project>.<job>
                found.append(Pending(org_id=parts[3], project_id=parts[4], job_id=parts[5], seq=seq - 1))
        return found, seq

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

    async def update(self, principal: ApiKeyPrincipal, entry: JobEntry, revision: int) -> int | None:
        """Replace the entry if nobody changed it since `revision`: its new revision, or None when
        another reader (or replica) did."""
        key = self.key(principal, entry.id)
        if key is None:  # pragma: no cover - ids are ours
            return None
        try:
            return int(await (await self._bucket()).update(key, msgspec.json.encode(entry), last=revision))
        except KeyWrongLastSequenceError:
            return None
        except (NatsError, TimeoutError) as exc:
            raise KeyrelayError("dependency_unavailable", "the job store is not available") from exc


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
        project_proof=record.principal.project_proof,
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


def expired_entry(entry: JobEntry, after_s: float) -> JobEntry:
    """A job the provider did not finish within the gateway's polling deadline: failed, said so."""
    message = f"{entry.route.provider}: the job did not finish within {after_s:g} s; the gateway stopped polling it"
    return msgspec.structs.replace(entry, status="failed", error=JobError(code="upstream_timeout", message=message))


def expired_record(entry: JobEntry) -> RequestFinished:
    """The record of a job given up on: status 504 `upstream_timeout`, nothing charged."""
    elapsed = (datetime.now(UTC) - entry.created_at).total_seconds() * 1000
    return msgspec.structs.replace(
        entry.record,
        status=504,
        error_code="upstream_timeout",
        job_status="failed",
        latency_ms=round(entry.record.latency_ms + elapsed, 3),
    )


def backoff(polls: int, first_s: float, most_s: float) -> timedelta:
    """The wait before background poll number `polls + 1`: doubling from `first_s`, at most `most_s`."""
    return timedelta(seconds=min(first_s * 2 ** min(polls, 30), most_s))


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
