"""Builds the activity record of each request and hands it to the durable publisher.

Exactly one record per request id, whatever the outcome: a stream journals an `interrupted`
stand-in when its first byte goes out (replayed only if the gateway dies before the real record
is queued), and a request whose key could not be checked (catalog unreachable) is recorded with
what is known: the key's public prefix and, if it was seen before, whom it belonged to.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from gateway import metrics
from gateway.limits import Limits, scopes
from gateway.wire.openai import ChatChunk, ChatCompletion
from shared import subjects
from shared.logging import get_logger
from shared.messages.activity import Attempt, RequestFinished, StreamOutcome
from shared.messages.catalog import ApiKeyPrincipal, RouteTarget
from shared.messages.usage import Usage
from shared.publisher import DurablePublisher
from shared.tokens import api_key_prefix

log = get_logger("keyrelay.gateway.recorder")
NO_KEY = ApiKeyPrincipal(api_key_id="", org_id="", project_id="")  # a request whose key is not known yet


@dataclass(slots=True)
class RequestRecord:
    """Mutable while the request runs; frozen into a `RequestFinished` at the end."""

    request_id: str
    endpoint: str
    principal: ApiKeyPrincipal = NO_KEY  # until the key is authenticated
    started: float = field(default_factory=time.perf_counter)
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))
    model_requested: str = ""
    virtual_model: str | None = None
    config: str | None = None
    config_version: int | None = None
    stream: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    served: RouteTarget | None = None
    ttft_ms: float | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0  # at the effective price (the org's own terms)
    list_cost_usd: float = 0.0  # at the catalog (list) price
    trace_id: str | None = None
    content: dict[str, Any] | None = None
    served_stale: list[str] = field(default_factory=list)

    # --- content logging (only when the project turned it on; off by default) ----------------------
    def capture_request(self, body: dict[str, Any]) -> None:
        if self.principal.content_logging:
            kept = {k: body[k] for k in ("messages", "system", "input", "prompt", "tools") if k in body}
            self.content = {"request": kept, "response": None}

    def capture_answer(self, body: ChatCompletion) -> None:
        if self.content is not None:
            self.content["response"] = body.choices[0].message.content if body.choices else None

    def capture_chunk(self, chunk: ChatChunk) -> None:
        if self.content is not None:
            for choice in chunk.choices:
                text = choice.delta.content
                if text:
                    self.content["response"] = (self.content.get("response") or "") + text

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)

    def mark_first_byte(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def set_usage(self, usage: Usage | None) -> None:
        if usage is None:
            return
        self.usage = usage.finalize()
        if self.served is not None:  # the provider's own figure (if any) at the org's terms
            self.cost_usd, self.list_cost_usd = self.served.costs(self.usage)
        elif self.usage.cost_usd is not None:
            self.cost_usd = self.list_cost_usd = self.usage.cost_usd

    def charge_images(self, images: int) -> None:
        """`images` generated at the model's price per image (effective and list); a model priced
        by tokens only (no price per image) keeps the cost of its usage."""
        if self.served is None:
            return
        listed = self.served.list_pricing or self.served.pricing
        if any(p.per_image or p.per_request for p in (self.served.pricing, listed)):
            self.cost_usd = self.served.pricing.images_cost(images)
            self.list_cost_usd = listed.images_cost(images)

    def finish(
        self, *, status: int, error_code: str | None = None, stream_outcome: StreamOutcome | None = None
    ) -> RequestFinished:
        served = self.served
        return RequestFinished(
            request_id=self.request_id,
            ts=self.ts,
            org_id=self.principal.org_id,
            project_id=self.principal.project_id,
            api_key_id=self.principal.api_key_id,
            endpoint=self.endpoint,
            integration=served.slug if served else None,
            provider=served.provider if served else None,
            model_requested=self.model_requested,
            model_served=served.model if served else None,
            virtual_model=self.virtual_model,
            config=self.config,
            config_version=self.config_version,
            attempts=self.attempts,
            status=status,
            error_code=error_code,
            stream=self.stream,
            stream_outcome=stream_outcome,
            latency_ms=self.elapsed_ms(),
            ttft_ms=self.ttft_ms,
            usage=self.usage,
            cost_usd=self.cost_usd,
            list_cost_usd=self.list_cost_usd,
            trace_id=self.trace_id,
            content=self.content,
            served_stale=list(self.served_stale),
        )


def unauthenticated(
    record: RequestRecord, raw_key: str, known: ApiKeyPrincipal | None, *, status: int, error_code: str
) -> RequestFinished:
    """The record of a request whose key could not be checked (labelled with whom the key belonged
    to when last validated, if known): never the key, only its public prefix."""
    record.principal = known or NO_KEY
    finished = record.finish(status=status, error_code=error_code)
    return msgspec.structs.replace(finished, api_key_prefix=api_key_prefix(raw_key))


class ActivityRecorder:
    """Hands each finished request to the durable publisher, metrics and the shared limit counters."""

    def __init__(self, publisher: DurablePublisher, limits: Limits | None = None) -> None:
        self._publisher = publisher
        self._limits = limits
        self._background: set[asyncio.Task[None]] = set()

    def finish(
        self,
        record: RequestRecord,
        *,
        status: int,
        error_code: str | None = None,
        stream_outcome: StreamOutcome | None = None,
    ) -> None:
        self.record(
            record.finish(status=status, error_code=error_code, stream_outcome=stream_outcome), record.principal
        )

    def started(self, record: RequestRecord) -> None:
        """The first byte of a stream is going out: journal an `interrupted` stand-in for its record."""
        stand_in = record.finish(status=500, error_code="internal_error", stream_outcome="interrupted")
        self._publisher.provisional(
            subjects.ACTIVITY_REQUEST_FINISHED, stand_in, f"{record.request_id}.interrupted", unless=record.request_id
        )

    def record(self, event: RequestFinished, principal: ApiKeyPrincipal | None = None, *, final: bool = False) -> None:
        """Publish a request's record; `final`: the record that replaces its stand-in once a media
        job ended (its own message id, so JetStream does not drop it as the handle's duplicate; not a
        new HTTP request, so not counted again in the request metrics)."""
        if not final:
            metrics.observe(event)
        msg_id = f"{event.request_id}.{event.job_status}" if final else event.request_id
        self._publisher.publish(subjects.ACTIVITY_REQUEST_FINISHED, event, msg_id)
        if self._limits is not None and principal is not None and scopes(principal):  # no task without limits
            task = asyncio.create_task(self._account(principal, event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _account(self, principal: ApiKeyPrincipal, event: RequestFinished) -> None:
        try:
            await self._limits.account(principal, event)  # type: ignore[union-attr]
        except Exception as exc:
            log.warning("limits.account_failed", error=type(exc).__name__)
