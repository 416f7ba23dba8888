"""What catalog tells the rest of the system: change events (ids only) and audit events."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from shared import subjects
from shared.bus import encode
from shared.messages.activity import audit_event
from shared.messages.catalog import CatalogChanged, MemberPrincipal
from shared.publisher import DurablePublisher


class CatalogEvents:
    def __init__(self, nc: NatsClient, publisher: DurablePublisher) -> None:
        self._nc = nc
        self._publisher = publisher

    async def changed(self, org_id: str, kind: str, *ids: str) -> None:
        await self._nc.publish(
            subjects.EVENT_CATALOG_CHANGED, encode(CatalogChanged(org_id=org_id, kind=kind, ids=list(ids)))
        )

    def audit(
        self,
        actor: MemberPrincipal | None,
        org_id: str,
        action: str,
        target_type: str,
        target_id: str,
        *,
        outcome: str = "ok",
        detail: dict[str, str] | None = None,
    ) -> None:
        event = audit_event(
            org_id=org_id,
            actor_id=actor.member_id if actor else "operator",
            actor_role=actor.org_role if actor else "operator",
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,  # type: ignore[arg-type]
            service="catalog",
            detail=detail,
        )
        self._publisher.publish(subjects.ACTIVITY_AUDIT_RECORDED, event, event.event_id)
