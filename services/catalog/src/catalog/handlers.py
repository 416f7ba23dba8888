"""Thin bus handlers: FastStream subscribers (decoding, validation and `Failed` replies are
`shared.fastbus`'s), each calling one use case."""

from __future__ import annotations

from faststream.nats import NatsBroker

from catalog.service import Catalog
from shared import subjects
from shared.fastbus import CONCURRENT_WORKERS
from shared.messages import catalog as m
from shared.messages.base import Ping, Pong


def register(broker: NatsBroker, catalog: Catalog) -> None:
    queue = subjects.QUEUE_CATALOG

    @broker.subscriber(subjects.CATALOG_BOOTSTRAP, queue=queue)
    async def bootstrap(req: m.BootstrapRequest) -> m.BootstrapReply:
        return await catalog.bootstrap(req)

    # a console page's commands are answered side by side (each one stands alone, as with replicas)
    @broker.subscriber(subjects.CATALOG_AUTH_MEMBER, queue=queue, max_workers=CONCURRENT_WORKERS)
    async def member(req: m.AuthenticateMember) -> m.MemberPrincipal:
        return await catalog.member(req.token_hash)

    @broker.subscriber(subjects.CATALOG_AUTH_API_KEY, queue=queue)
    async def api_key(req: m.AuthenticateApiKey) -> m.ApiKeyPrincipal:
        return await catalog.api_key(req.key_hash)

    @broker.subscriber(subjects.CATALOG_SNAPSHOT, queue=queue)
    async def snapshot(req: m.SnapshotRequest) -> m.RoutingSnapshot:
        return await catalog.snapshot(req)

    @broker.subscriber(subjects.CATALOG_MANAGE, queue=queue, max_workers=CONCURRENT_WORKERS)
    async def manage(req: m.ManageRequest) -> m.ManageReply:
        return await catalog.manage(req)

    @broker.subscriber(subjects.CATALOG_REPORT, queue=queue)
    async def report(req: m.IntegrationReport) -> m.Ack:
        return await catalog.report(req)

    @broker.subscriber(subjects.CATALOG_PING, queue=queue)
    async def ping(_: Ping) -> Pong:
        return Pong(service="catalog")

    @broker.subscriber(subjects.CATALOG_PASSWORD_PARAMS, queue=queue)
    async def password_params(req: m.GetPasswordParams) -> m.PasswordParams:
        return await catalog.console.params(req)

    @broker.subscriber(subjects.CATALOG_PASSWORD_SET, queue=queue)
    async def password_set(req: m.SetPassword) -> m.Ack:
        return await catalog.console.set_password(req)

    @broker.subscriber(subjects.CATALOG_SESSION_START, queue=queue)
    async def session_start(req: m.StartSession) -> m.SessionStarted:
        return await catalog.console.start(req)

    @broker.subscriber(subjects.CATALOG_SESSION_END, queue=queue)
    async def session_end(req: m.EndSession) -> m.Ack:
        return await catalog.console.end(req)
