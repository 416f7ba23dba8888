"""Thin bus handlers: FastStream subscribers (decoding, validation and `Failed` replies are
`shared.fastbus`'s), each calling one use case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Never

import msgspec
from faststream.nats import NatsBroker

from catalog.service import Catalog
from shared import subjects
from shared.fastbus import CONCURRENT_WORKERS
from shared.messages import catalog as m
from shared.messages.base import Ping, Pong

# one typed request in, its typed reply out (FastStream decodes and encodes by the annotations)
UseCase = Callable[[Never], Awaitable[msgspec.Struct]]


def register(broker: NatsBroker, catalog: Catalog) -> None:
    queue = subjects.QUEUE_CATALOG

    async def member(req: m.AuthenticateMember) -> m.MemberPrincipal:
        return await catalog.member(req.token_hash)

    async def api_key(req: m.AuthenticateApiKey) -> m.ApiKeyPrincipal:
        return await catalog.api_key(req.key_hash)

    async def ping(_: Ping) -> Pong:
        return Pong(service="catalog")

    one_at_a_time: dict[str, UseCase] = {
        subjects.CATALOG_BOOTSTRAP: catalog.bootstrap,
        subjects.CATALOG_AUTH_API_KEY: api_key,
        subjects.CATALOG_SNAPSHOT: catalog.snapshot,
        subjects.CATALOG_REPORT: catalog.report,
        subjects.CATALOG_PING: ping,
        subjects.CATALOG_PASSWORD_PARAMS: catalog.console.params,
        subjects.CATALOG_PASSWORD_SET: catalog.console.set_password,
        subjects.CATALOG_SESSION_START: catalog.console.start,
        subjects.CATALOG_SESSION_END: catalog.console.end,
    }
    # a console page's commands are answered side by side (each one stands alone, as with replicas)
    side_by_side: dict[str, UseCase] = {
        subjects.CATALOG_AUTH_MEMBER: member,
        subjects.CATALOG_MANAGE: catalog.manage,
    }
    for subject, use_case in one_at_a_time.items():
        broker.subscriber(subject, queue=queue)(use_case)
    for subject, use_case in side_by_side.items():
        broker.subscriber(subject, queue=queue, max_workers=CONCURRENT_WORKERS)(use_case)
