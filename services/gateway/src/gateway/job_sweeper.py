"""Media jobs finish on their own: a bounded background poller in every gateway replica.

A job answered as a handle (`gateway.jobs`) is listed by a pending marker in the jobs bucket until
its final record is out. Every `job_sweep_interval_s` each replica reads up to `job_sweep_batch`
markers (direct gets from the oldest live one on, no consumer) and, for each job that is due,
claims it by compare-and-set on the entry (the first poll is due `job_poll_first_s` after the
handle was answered): `next_poll_at` moves on by a doubling backoff
(`job_poll_first_s` up to `job_poll_most_s`) and `polls` counts up. Only the replica whose update
won polls the provider (with the same `poll` as `GET /v1/jobs/{id}`); a reader or another replica
that changed the entry meanwhile makes the claim lose, and the job is looked at again next sweep.
The final record is published by whoever moves the entry to its end first (compare-and-set again),
so there is exactly one. A job still unfinished `job_poll_timeout_s` after it was answered is given
up: the entry reads failed (`upstream_timeout`, saying the gateway stopped polling) and its record
becomes status 504 with nothing charged. While the bucket cannot be read, sweeps back off (up to a
minute) and the failure is logged once per outage.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec

from gateway.api.jobs import poll
from gateway.api.state import GatewayState
from gateway.jobs import JobEntry, Pending, backoff, expired_entry, expired_record
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.catalog import ApiKeyPrincipal
from shared.tasks import cancel_and_wait

log = get_logger("keyrelay.gateway.jobs")
MAX_PAUSE_S = 60.0  # between sweeps while the jobs bucket cannot be read


def owner_of(pending: Pending, entry: JobEntry | None = None) -> ApiKeyPrincipal:
    """The job's project as a principal (no key limits: those belong to the reading key)."""
    return ApiKeyPrincipal(
        api_key_id=entry.record.api_key_id if entry is not None else "",
        org_id=pending.org_id,
        project_id=pending.project_id,
        project_proof=entry.project_proof if entry is not None else b"",
    )


class JobSweeper:
    def __init__(self, gw: GatewayState) -> None:
        self.gw = gw
        settings = gw.settings
        self.interval_s = settings.job_sweep_interval_s
        self.batch = settings.job_sweep_batch
        self.first_s, self.most_s = settings.job_poll_first_s, settings.job_poll_most_s
        self.timeout_s = settings.job_poll_timeout_s
        self._from = 1  # the stream sequence of the oldest live marker seen (nothing older is pending)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job-sweeper")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        pause = self.interval_s
        while True:
            await asyncio.sleep(pause)
            try:
                await self.sweep()
            except Exception as exc:  # the loop outlives any one failure: logged, then it waits longer
                if pause == self.interval_s:
                    log.warning("jobs.sweep_failed", error=type(exc).__name__)
                pause = min(pause * 2, max(self.interval_s, MAX_PAUSE_S))
            else:
                pause = self.interval_s

    async def sweep(self) -> int:
        """One pass over the pending jobs; how many it polled or gave up on."""
        pending, after = await self.gw.jobs.pending(self._from, self.batch)
        self._from = pending[0].seq if pending else after
        handled = 0
        for job in pending:
            try:
                handled += await self._visit(job)
            except KeyrelayError as exc:
                log.info("jobs.poll_failed", job_id=job.job_id, error=exc.code)
        return handled

    async def _visit(self, job: Pending) -> int:
        try:
            entry, revision = await self.gw.jobs.get(owner_of(job), job.job_id)
        except KeyrelayError as exc:
            if exc.code == "not_found":  # expired from the bucket: nothing left to finish
                await self.gw.jobs.ended(owner_of(job), job.job_id)
                return 0
            raise
        principal = owner_of(job, entry)
        if entry.ended:
            await self.gw.jobs.ended(principal, entry.id)  # ended by a reader: only the marker is left
            return 0
        now = datetime.now(UTC)
        if (now - entry.created_at).total_seconds() > self.timeout_s:
            return await self._give_up(principal, entry, revision)
        due = entry.next_poll_at or entry.created_at + backoff(0, self.first_s, self.most_s)
        if now < due:
            return 0
        claimed = msgspec.structs.replace(
            entry, polls=entry.polls + 1, next_poll_at=now + backoff(entry.polls + 1, self.first_s, self.most_s)
        )
        claimed_revision = await self.gw.jobs.update(principal, claimed, revision)
        if claimed_revision is None:
            return 0  # another replica (or a reader) got there first
        await poll(self.gw, principal, claimed, claimed_revision)
        return 1

    async def _give_up(self, principal: ApiKeyPrincipal, entry: JobEntry, revision: int) -> int:
        if await self.gw.jobs.update(principal, expired_entry(entry, self.timeout_s), revision) is None:
            return 0
        self.gw.recorder.record(expired_record(entry), None, final=True)
        await self.gw.jobs.ended(principal, entry.id)
        log.info("jobs.given_up", job_id=entry.id, request_id=entry.record.request_id, after_s=self.timeout_s)
        return 1
