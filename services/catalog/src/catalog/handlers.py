"""Thin bus handlers: decode (done by `shared.bus.serve`), call the use case, reply."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from catalog.service import Catalog
from shared import subjects
from shared.bus import serve
from shared.messages import catalog as m
from shared.messages.base import Ping, Pong


async def register(nc: NatsClient, catalog: Catalog) -> None:
    queue = subjects.QUEUE_CATALOG

    async def bootstrap(req: m.BootstrapRequest, _: object) -> m.BootstrapReply:
        return await catalog.bootstrap(req)

    async def member(req: m.AuthenticateMember, _: object) -> m.MemberPrincipal:
        return await catalog.member(req.token_hash)

    async def api_key(req: m.AuthenticateApiKey, _: object) -> m.ApiKeyPrincipal:
        return await catalog.api_key(req.key_hash)

    async def snapshot(req: m.SnapshotRequest, _: object) -> m.RoutingSnapshot:
        return await catalog.snapshot(req)

    async def manage(req: m.ManageRequest, _: object) -> m.ManageReply:
        return await catalog.manage(req)

    async def report(req: m.IntegrationReport, _: object) -> m.Ack:
        return await catalog.report(req)

    async def password_params(req: m.GetPasswordParams, _: object) -> m.PasswordParams:
        return await catalog.console.params(req)

    async def password_set(req: m.SetPassword, _: object) -> m.Ack:
        return await catalog.console.set_password(req)

    async def session_start(req: m.StartSession, _: object) -> m.SessionStarted:
        return await catalog.console.start(req)

    async def session_end(req: m.EndSession, _: object) -> m.Ack:
        return await catalog.console.end(req)

    async def ping(_: Ping, __: object) -> Pong:
        return Pong(service="catalog")

    await serve(nc, subjects.CATALOG_BOOTSTRAP, m.BootstrapRequest, bootstrap, queue=queue)
    # a console page's commands are answered side by side (each one stands alone, as with replicas)
    await serve(nc, subjects.CATALOG_AUTH_MEMBER, m.AuthenticateMember, member, queue=queue, concurrent=True)
    await serve(nc, subjects.CATALOG_AUTH_API_KEY, m.AuthenticateApiKey, api_key, queue=queue)
    await serve(nc, subjects.CATALOG_SNAPSHOT, m.SnapshotRequest, snapshot, queue=queue)
    await serve(nc, subjects.CATALOG_MANAGE, m.ManageRequest, manage, queue=queue, concurrent=True)
    await serve(nc, subjects.CATALOG_REPORT, m.IntegrationReport, report, queue=queue)
    await serve(nc, subjects.CATALOG_PING, Ping, ping, queue=queue)
    await serve(nc, subjects.CATALOG_PASSWORD_PARAMS, m.GetPasswordParams, password_params, queue=queue)
    await serve(nc, subjects.CATALOG_PASSWORD_SET, m.SetPassword, password_set, queue=queue)
    await serve(nc, subjects.CATALOG_SESSION_START, m.StartSession, session_start, queue=queue)
    await serve(nc, subjects.CATALOG_SESSION_END, m.EndSession, session_end, queue=queue)
