"""`GET /v1/jobs/{job_id}`: a media job answered as a handle (`gateway.jobs`), polled once per read
(and in the background by `gateway.job_sweeper`, with the same `poll`)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from gateway.api.edge import bearer, request_id
from gateway.api.inference import image_cost
from gateway.api.state import GatewayState
from gateway.jobs import JobEntry, JobPoller, ended_entry, final_record, public_status, view
from gateway.providers.base import ImageResult
from gateway.providers.jobs import JobState
from gateway.recorder import RequestRecord
from gateway.wire.openai import ImagesResponse
from shared.errors import KeyrelayError
from shared.messages.catalog import ApiKeyPrincipal
from shared.messages.usage import Usage


@get("/v1/jobs/{job_id:str}")
async def retrieve_job(request: Request[Any, Any, Any], gw: GatewayState, job_id: str) -> Response[bytes]:
    """The caller's project's job: `{id, status, result?, error?}`; 404 `not_found` for any other id."""
    rid = request_id(request)
    principal = await gw.catalog.api_key(bearer(request))
    entry, revision = await gw.jobs.get(principal, job_id)
    if entry.status in ("queued", "running"):
        entry = await poll(gw, principal, entry, revision)
    return Response(msgspec.json.encode(view(entry)), media_type="application/json", headers={"x-request-id": rid})


async def poll(gw: GatewayState, principal: ApiKeyPrincipal, entry: JobEntry, revision: int) -> JobEntry:
    """Poll the provider once with the integration's key; keep what changed (one reader wins)."""
    adapter: object = gw.proxy.adapters.get(entry.route.adapter)
    if not isinstance(adapter, JobPoller):
        raise KeyrelayError("upstream_error", "this gateway cannot poll the job's provider")
    target, credential = await gw.proxy.prepare(principal, entry.route)
    state = await adapter.poll_job(entry.upstream, target, credential, gw.proxy.options())
    if not state.ended:
        status = public_status(state)
        if status == entry.status:
            return entry
        moved = msgspec.structs.replace(entry, status=status)
        if await gw.jobs.update(principal, moved, revision) is not None:
            return moved
        return await reread(gw, principal, entry)
    ended = ended_entry(entry, state)
    if await gw.jobs.update(principal, ended, revision) is None:
        return await reread(gw, principal, entry)  # another reader saw it end (and recorded it)
    final = settle(entry, state)
    gw.recorder.record(final, payer(principal, final.api_key_id), final=True)
    await gw.jobs.ended(principal, entry.id)
    return ended


def payer(reader: ApiKeyPrincipal, api_key_id: str) -> ApiKeyPrincipal:
    """Whose budgets the job's cost counts against: the project's always; the key's limits only when
    the reader is the key that created the job (another key's limits are not known here)."""
    if reader.api_key_id == api_key_id:
        return reader
    return msgspec.structs.replace(reader, api_key_id=api_key_id, rpm=None, tpm=None, budget_usd=None)


async def reread(gw: GatewayState, principal: ApiKeyPrincipal, entry: JobEntry) -> JobEntry:
    return (await gw.jobs.get(principal, entry.id))[0]


def settle(entry: JobEntry, state: JobState) -> Any:
    """The final record: the job's cost at the integration's prices (as the awaited call is charged)."""
    record = RequestRecord(request_id=entry.record.request_id, endpoint=entry.record.endpoint, served=entry.route)
    usage = state.usage or Usage()
    record.set_usage(usage)
    if not state.failed:
        done = ImageResult(body=state.result or ImagesResponse(created=0, data=[]), usage=usage)
        image_cost(record, {"n": entry.images}, done)
    return final_record(entry, state, (record.cost_usd, record.list_cost_usd), record.usage)


JOB_ROUTES = [retrieve_job]
