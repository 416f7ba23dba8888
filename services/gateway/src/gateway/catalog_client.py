"""Catalog over NATS, cached: API-key principals, member principals, routing snapshots.

The hot path pays no NATS round trip once warm: principals and snapshots are cached with a TTL and
dropped at once when catalog broadcasts a change for the org (`events.v1.catalog.changed`), so a
revoked key stops working on every replica immediately. Concurrent misses for one key share a
single request, and while catalog cannot be reached an entry no event invalidated answers stale
for a bounded grace (both in `gateway.cache`). The console's project list and integration slugs
are cached per session the same way (any change to the org drops them), and used only after the
session's member principal was found.

A cached API-key principal is checked again on every answer, fresh or stale: past its
`expires_at` it is refused at once, however long the cache would keep it. A principal loaded while
an API-key or project change arrived is used for that request but not cached (the cache's
generation check), so a revocation that lands during the load cannot be undone by the load
putting the old principal back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from gateway.cache import TTLCache
from gateway.settings import GatewaySettings
from shared import subjects
from shared.bus import BusClient, Peer
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.tokens import hash_token

_json = msgspec.json.Decoder()
PROVIDERS_TTL_S = 300.0
# commands that change what `CatalogClient.listed` remembers (projects, integrations, who sees them)
_CHANGES_LISTS = (
    m.CreateProject,
    m.UpdateProject,
    m.DeleteProject,
    m.UpdateMember,
    m.DeleteMember,
    m.CreateIntegration,
    m.UpdateIntegration,
    m.DeleteIntegration,
)


class CatalogClient:
    def __init__(self, bus: BusClient, settings: GatewaySettings) -> None:
        self._catalog = Peer(bus, "catalog", settings.catalog_timeout_s)
        grace = settings.stale_grace_s
        self._keys: TTLCache[str, m.ApiKeyPrincipal] = TTLCache(
            max_size=50_000, ttl_s=settings.principal_ttl_s, grace_s=grace, name="principal"
        )
        self._bad_keys: TTLCache[str, KeyrelayError] = TTLCache(max_size=10_000, ttl_s=2.0)
        self._members: TTLCache[str, m.MemberPrincipal] = TTLCache(
            max_size=5_000, ttl_s=min(5.0, settings.principal_ttl_s)
        )
        self._snapshots: TTLCache[tuple[str, str], m.RoutingSnapshot] = TTLCache(
            max_size=10_000, ttl_s=settings.snapshot_ttl_s, grace_s=grace, name="routing"
        )
        # a console session's project list and integration slugs: (session hash, command, fields) -> (org, items)
        self._lists: TTLCache[tuple[str, str, tuple[str, ...]], tuple[str, list[dict[str, Any]]]] = TTLCache(
            max_size=20_000, ttl_s=settings.principal_ttl_s
        )
        # the provider catalog (`ListProviders`): catalog's own data, the same for every member and
        # fixed while catalog runs; kept a few minutes, dropped when the bus reconnects
        self._providers: TTLCache[str, list[dict[str, Any]]] = TTLCache(max_size=1, ttl_s=PROVIDERS_TTL_S)

    async def api_key(self, raw_key: str) -> m.ApiKeyPrincipal:
        key_hash = hash_token(raw_key)
        refused = self._bad_keys.get(key_hash)
        if refused is not None:
            raise KeyrelayError(refused.code, refused.message)

        async def load() -> m.ApiKeyPrincipal:
            try:
                return await self._catalog.ask(
                    subjects.CATALOG_AUTH_API_KEY, m.AuthenticateApiKey(key_hash=key_hash), m.ApiKeyPrincipal
                )
            except KeyrelayError as exc:
                if exc.code == "invalid_api_key":
                    self._bad_keys.put(key_hash, exc)
                raise

        # Fresh, loaded, or stale within the grace (`gateway.cache`): checks of the principal itself
        # belong after this line, so a stale answer passes them too.
        principal = await self._keys.fetch(key_hash, load)
        if expired(principal):
            self._keys.drop(key_hash)
            raise KeyrelayError("invalid_api_key", "API key expired")
        return principal

    def last_known_key(self, raw_key: str) -> m.ApiKeyPrincipal | None:
        """Whom a key belonged to when last validated (to label a failed request's record only)."""
        return self._keys.last_known(hash_token(raw_key))

    async def member(self, raw_token: str) -> m.MemberPrincipal:
        token_hash = hash_token(raw_token)
        cached = self._members.get(token_hash)
        if cached is not None:
            return cached
        principal = await self._catalog.ask(
            subjects.CATALOG_AUTH_MEMBER, m.AuthenticateMember(token_hash=token_hash), m.MemberPrincipal
        )
        self._members.put(token_hash, principal)
        return principal

    async def listed(
        self,
        raw_token: str,
        who: m.MemberPrincipal,
        command: m.ListProjects | m.ListIntegrations,
        fields: tuple[str, ...],
        request_id: str,
    ) -> list[dict[str, Any]]:
        """These `fields` of each item a list command answered for this member's session, remembered
        until any change to the member's org (or the TTL): the console's project switcher and its
        integration choices. Loaded by the same `manage()` command, authenticated as any other."""
        token_hash = hash_token(raw_token)

        async def load() -> tuple[str, list[dict[str, Any]]]:
            reply = await self.manage(raw_token, command, request_id)
            body = _json.decode(bytes(reply.body)) if bytes(reply.body) else None
            items = (body or {}).get("data", [])
            return who.org_id, [{name: item.get(name) for name in fields} for item in items]

        _, items = await self._lists.fetch((token_hash, type(command).__name__, fields), load)
        return items

    async def providers(self, raw_token: str, request_id: str) -> list[dict[str, Any]]:
        """The provider catalog as `ListProviders` answers it: loaded by that command, authenticated
        as any other (a refusal is never kept), then shared by every console page for a while."""

        async def load() -> list[dict[str, Any]]:
            reply = await self.manage(raw_token, m.ListProviders(), request_id)
            body = _json.decode(bytes(reply.body)) if bytes(reply.body) else None
            items: list[dict[str, Any]] = (body or {}).get("data", [])
            return items

        return await self._providers.fetch("providers", load)

    def forget_session(self, raw_token: str) -> None:
        """A console session that ended here (sign-out): nothing cached for it answers again."""
        token_hash = hash_token(raw_token)
        self._members.drop(token_hash)
        self._lists.drop_where(lambda key, _: key[0] == token_hash)

    async def snapshot(self, org_id: str, project_id: str) -> m.RoutingSnapshot:
        async def load() -> m.RoutingSnapshot:
            request = m.SnapshotRequest(org_id=org_id, project_id=project_id)
            return await self._catalog.ask(subjects.CATALOG_SNAPSHOT, request, m.RoutingSnapshot)

        return await self._snapshots.fetch((org_id, project_id), load)

    async def manage(
        self, raw_token: str, command: m.Command, request_id: str, timeout_s: float = 10.0
    ) -> m.ManageReply:
        request = m.ManageRequest(token_hash=hash_token(raw_token), command=command, request_id=request_id)
        reply = await self._catalog.ask(subjects.CATALOG_MANAGE, request, m.ManageReply, timeout_s=timeout_s)
        if isinstance(command, _CHANGES_LISTS):
            self._lists.clear()  # at once here; other replicas when catalog's change event reaches them
        return reply

    async def report(self, report: m.IntegrationReport) -> None:
        await self._catalog.ask(subjects.CATALOG_REPORT, report, m.Ack)

    def on_changed(self, event: m.CatalogChanged) -> None:
        """Drop everything cached for the org that the change can affect."""
        self._snapshots.drop_where(lambda key, _: key[0] == event.org_id)
        if event.kind in {"api_key", "project"}:
            ids = set(event.ids)
            self._keys.drop_where(
                lambda _, p: p.org_id == event.org_id and (p.api_key_id in ids or p.project_id in ids)
            )
        if event.kind == "member":
            self._members.drop_where(lambda _, p: p.org_id == event.org_id)
        self._lists.drop_where(lambda _, value: value[0] == event.org_id)

    def revalidate(self) -> None:
        """After a bus reconnect (change events may have been missed): revalidate on next use,
        answering stale within the grace while catalog is not reachable yet."""
        self._keys.mark_stale()
        self._snapshots.mark_stale()
        self._members.clear()
        self._lists.clear()
        self._providers.clear()
        self._bad_keys.clear()

    @property
    def cache_stats(self) -> dict[str, int]:
        return {
            "snapshot_hits": self._snapshots.hits,
            "snapshot_misses": self._snapshots.misses,
            "key_hits": self._keys.hits,
            "key_misses": self._keys.misses,
            "cache_principals": len(self._keys),
            "cache_snapshots": len(self._snapshots),
        }


def expired(principal: m.ApiKeyPrincipal, now: datetime | None = None) -> bool:
    """Whether the key's `expires_at` has passed (a naive timestamp is UTC, as catalog stores it)."""
    expires = principal.expires_at
    if expires is None:
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires <= (now or datetime.now(UTC))
