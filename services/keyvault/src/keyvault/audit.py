"""Audit events of keyvault: who did what to which credential, when, with what outcome. Never a secret.

Events go to JetStream (`activity.v1.events.audit.recorded`, `Nats-Msg-Id` = event id) through a
`DurablePublisher`, which retries until the stream acknowledges them. Every successful reveal is
one event: the gateway caches revealed keys (60 s by default), so reveals are rare enough.
"""

from __future__ import annotations

import functools
from typing import Protocol

from shared import subjects
from shared.messages.activity import AuditEvent, audit_event


class EventSink(Protocol):
    def publish(self, subject: str, event: AuditEvent, msg_id: str) -> None: ...


# keyvault's audit events: made by the one builder, about a credential unless said otherwise
credential_event = functools.partial(
    audit_event, service="keyvault", target_type="credential", actor_role="", outcome="ok"
)


class Auditor:
    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def record(self, event: AuditEvent) -> None:
        self._sink.publish(subjects.ACTIVITY_AUDIT_RECORDED, event, event.event_id)
