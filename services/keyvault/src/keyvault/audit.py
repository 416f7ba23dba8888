"""Audit events of keyvault: who did what to which credential, when, with what outcome. Never a secret.

Events go to JetStream (`activity.v1.events.audit.recorded`, `Nats-Msg-Id` = event id) through a
`DurablePublisher`, which retries until the stream acknowledges them. Every successful reveal is
one event: the gateway caches revealed keys (60 s by default), so reveals are rare enough.
"""

from __future__ import annotations

from typing import Protocol

from shared import subjects
from shared.messages.activity import AuditEvent, Outcome, audit_event


class EventSink(Protocol):
    def publish(self, subject: str, event: AuditEvent, msg_id: str) -> None: ...


class Auditor:
    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def record(
        self,
        *,
        org_id: str,
        actor_id: str,
        action: str,
        target_id: str,
        outcome: Outcome = "ok",
        actor_role: str = "",
        target_type: str = "credential",
        detail: dict[str, str] | None = None,
    ) -> None:
        event = audit_event(
            org_id=org_id,
            actor_id=actor_id,
            actor_role=actor_role,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            service="keyvault",
            detail=detail,
        )
        self._sink.publish(subjects.ACTIVITY_AUDIT_RECORDED, event, event.event_id)
