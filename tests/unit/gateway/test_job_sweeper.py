"""The background poller of media jobs: a due job is claimed by one replica only (compare-and-set
on the entry), polled with a backoff, recorded exactly once when it ends, and given up with a clear
504 record after the deadline. The jobs bucket is an in-memory stand-in with the same revisions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
import pytest

from gateway.api.state import GatewayState
from gateway.job_sweeper import JobSweeper
from gateway.jobs import JobEntry, JobStore, Pending, backoff, not_found
from gateway.providers.base import CallOptions, Credential, Target, UpstreamJob
from gateway.providers.jobs import JobState
from gateway.settings import GatewaySettings
from gateway.wire.openai import ImagesResponse
from shared.messages.activity import RequestFinished
from shared.messages.catalog import ApiKeyPrincipal, RouteTarget
from shared.messages.usage import Pricing


class MemoryJobs(JobStore):
    def __init__(self) -> None:  # no bus
        self.entries: dict[str, tuple[JobEntry, int]] = {}
        self.markers: dict[str, int] = {}
        self.seq = 0

    def put(self, entry: JobEntry) -> None:
        self.seq += 1
        self.entries[entry.id] = (entry, self.seq)
        self.seq += 1
        self.markers[entry.id] = self.seq

    async def get(self, principal: ApiKeyPrincipal, job_id: str) -> tuple[JobEntry, int]:
        if job_id not in self.entries:
            raise not_found()
        return self.entries[job_id]

    async def update(self, principal: ApiKeyPrincipal, entry: JobEntry, revision: int) -> int | None:
        await asyncio.sleep(0)  # let a concurrent replica interleave
        if self.entries[entry.id][1] != revision:
            return None
        self.seq += 1
        self.entries[entry.id] = (entry, self.seq)
        return self.seq

    async def ended(self, principal: ApiKeyPrincipal, job_id: str) -> None:
        self.markers.pop(job_id, None)

    async def pending(self, start: int, limit: int) -> tuple[list[Pending], int]:
        live = sorted((seq, job_id) for job_id, seq in self.markers.items() if seq >= start)[:limit]
        found = [Pending(org_id="org_a", project_id="prj_a", job_id=job_id, seq=seq) for seq, job_id in live]
        return found, self.seq + 1


@dataclass
class Provider:
    """A FAL-like adapter: the job ends after `polls_to_end` polls."""

    name: str = "fal"
    polls_to_end: int = 2
    polls: int = 0

    async def poll_job(self, job: UpstreamJob, target: Target, cred: Credential, opts: CallOptions) -> JobState:
        await asyncio.sleep(0)
        self.polls += 1
        if self.polls >= self.polls_to_end:
            return JobState(status="succeeded", result=ImagesResponse(created=1, data=[]))
        return JobState(status="running")


@dataclass
class Proxy:
    adapter: Provider
    adapters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.adapters = {"fal": self.adapter}

    async def prepare(self, principal: ApiKeyPrincipal, route: RouteTarget) -> tuple[Target, Credential]:
        assert principal.project_proof == b"proof"  # keyvault gets catalog's word from the entry
        return Target(adapter="fal", provider="fal", base_url="http://127.0.0.1:9", model=route.model), Credential()

    def options(self) -> CallOptions:
        return CallOptions(timeout_s=5, first_byte_timeout_s=5)


@dataclass
class Recorder:
    finals: list[RequestFinished] = field(default_factory=list)

    def record(self, event: RequestFinished, principal: Any = None, *, final: bool = False) -> None:
        assert final
        self.finals.append(event)


@dataclass
class Gateway:
    settings: GatewaySettings
    jobs: MemoryJobs
    proxy: Proxy
    recorder: Recorder


def entry(created_ago_s: float = 10.0) -> JobEntry:
    route = RouteTarget(
        integration_id="int_1",
        slug="fal",
        provider="fal",
        adapter="fal",
        base_url="http://127.0.0.1:9",
        model="fal-ai/flux/dev",
        pricing=Pricing(per_request=0.025),
    )
    created = datetime.now(UTC) - timedelta(seconds=created_ago_s)
    record = RequestFinished(
        request_id="req_1", ts=created, org_id="org_a", project_id="prj_a", api_key_id="key_1", job_status="queued"
    )
    return JobEntry(
        id="job_" + "A" * 32,
        created_at=created,
        route=route,
        upstream=UpstreamJob(id="up-1"),
        images=1,
        record=record,
        project_proof=b"proof",
    )


def gateway(**settings: float) -> Gateway:
    chosen = GatewaySettings(**{"job_poll_first_s": 0.0, "job_poll_most_s": 0.0, **settings})  # type: ignore[arg-type]
    return Gateway(settings=chosen, jobs=MemoryJobs(), proxy=Proxy(Provider()), recorder=Recorder())


def sweeper(gw: Gateway) -> JobSweeper:
    return JobSweeper(cast("GatewayState", gw))


async def test_two_replicas_sweeping_at_once_poll_a_job_once_per_round_and_record_it_once() -> None:
    gw = gateway()
    gw.jobs.put(entry())
    replicas = [sweeper(gw), sweeper(gw)]
    rounds: list[int] = []
    while gw.jobs.markers and len(rounds) < 10:
        rounds.append(sum(await asyncio.gather(*(r.sweep() for r in replicas))))
    assert rounds == [1, 1]  # each round exactly one replica won the claim and polled
    assert gw.proxy.adapter.polls == 2
    [final] = gw.recorder.finals
    assert (final.status, final.job_status) == (200, "succeeded")
    assert final.cost_usd == pytest.approx(0.025)
    assert not gw.jobs.markers
    assert await sweeper(gw).sweep() == 0  # nothing left to do


async def test_a_job_is_not_polled_before_its_backoff_is_due() -> None:
    gw = gateway(job_poll_first_s=30.0, job_poll_most_s=60.0)
    gw.jobs.put(entry(created_ago_s=40.0))
    one = sweeper(gw)
    assert await one.sweep() == 1
    assert await one.sweep() == 0  # the next poll is 60 s away
    polled, _ = gw.jobs.entries[entry().id]
    assert polled.polls == 1
    assert polled.next_poll_at is not None
    assert polled.next_poll_at - datetime.now(UTC) > timedelta(seconds=55)
    fresh = gateway(job_poll_first_s=30.0, job_poll_most_s=60.0)
    fresh.jobs.put(entry(created_ago_s=1.0))
    assert await sweeper(fresh).sweep() == 0  # the first background poll waits job_poll_first_s


def test_the_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(n, 2.0, 60.0).total_seconds() for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff(500, 2.0, 60.0).total_seconds() == 60


async def test_a_job_past_the_deadline_is_given_up_with_a_clear_504_record_once() -> None:
    gw = gateway(job_poll_timeout_s=5.0)
    gw.jobs.put(entry(created_ago_s=10.0))
    handled = await asyncio.gather(sweeper(gw).sweep(), sweeper(gw).sweep())
    assert sorted(handled) == [0, 1]
    [final] = gw.recorder.finals
    assert (final.status, final.error_code, final.job_status, final.cost_usd) == (504, "upstream_timeout", "failed", 0)
    ended, _ = gw.jobs.entries[entry().id]
    assert ended.status == "failed"
    assert ended.error is not None
    assert "stopped polling" in ended.error.message
    assert gw.proxy.adapter.polls == 0


async def test_a_job_a_reader_already_ended_only_loses_its_marker() -> None:
    gw = gateway()
    done = msgspec.structs.replace(entry(), status="succeeded")
    gw.jobs.put(done)
    assert await sweeper(gw).sweep() == 0
    assert not gw.jobs.markers
    assert not gw.recorder.finals
