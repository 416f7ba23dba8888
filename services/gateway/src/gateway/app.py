"""Gateway application: `create_app(settings)` builds the Litestar app; its lifespan owns
the NATS connection, the durable publisher, the upstream HTTP session and the caches."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.config.response_cache import ResponseCacheConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.plugins import PluginProtocol
from litestar.plugins.core import MsgspecDIPlugin
from nats.aio.msg import Msg as NatsMsg

from gateway import metrics
from gateway.api.activity import ACTIVITY_ROUTES
from gateway.api.admission import Admission
from gateway.api.body import BodyRequest
from gateway.api.count_tokens import COUNT_TOKENS_ROUTES
from gateway.api.errors import handle_http_exception, handle_keyrelay_error, handle_unexpected
from gateway.api.explain import EXPLAIN_ROUTES
from gateway.api.headers import bounded_headers
from gateway.api.health import HEALTH_ROUTES
from gateway.api.inference import ROUTES as INFERENCE_ROUTES
from gateway.api.jobs import JOB_ROUTES
from gateway.api.management import management_router
from gateway.api.messages import MESSAGES_ROUTES
from gateway.api.models import MODEL_ROUTES
from gateway.api.openapi import OPENAPI_ROUTES
from gateway.api.probes import PROBE_ROUTES
from gateway.api.responses import RESPONSES_ROUTES
from gateway.api.state import GatewayState
from gateway.catalog_client import CatalogClient
from gateway.job_sweeper import JobSweeper
from gateway.jobs import JobStore
from gateway.keyvault_client import KeyvaultClient
from gateway.limits import Limits
from gateway.outbound import make_session
from gateway.providers.registry import build_adapters
from gateway.proxy import Proxy
from gateway.recorder import ActivityRecorder
from gateway.responses_store import ResponseStore
from gateway.settings import GatewaySettings
from gateway.ui.render import template_config
from gateway.ui.routes import console_router
from shared import subjects
from shared.bus import BusClient, connect
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.catalog import CatalogChanged
from shared.metrics import serve as serve_metrics
from shared.netpolicy import AddressPolicy
from shared.publisher import DurablePublisher
from shared.spool import SpoolJournal

log = get_logger("keyrelay.gateway")
_changed = msgspec.json.Decoder(CatalogChanged)


class _CredentialChanged(msgspec.Struct):
    org_id: str = ""
    integration_id: str = ""


_cred_changed = msgspec.json.Decoder(_CredentialChanged)


class Gateway(Litestar):
    """Litestar without the pydantic plugins it adds whenever pydantic is installed (other services'
    dependencies bring it): the gateway's boundary is msgspec, and pydantic cost every worker
    about 7 MiB of memory for nothing."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        return [*plugins, MsgspecDIPlugin()]


def create_app(settings: GatewaySettings) -> Litestar:
    admission = Admission(settings.max_inflight, settings.max_publish_backlog)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        holder: dict[str, Any] = {}

        async def on_reconnect() -> None:
            # Change events may have been missed while disconnected: revalidate every entry on its
            # next use (answering stale within the grace while catalog/keyvault are not back yet).
            if "catalog" in holder:
                holder["catalog"].revalidate()
                holder["keyvault"].revalidate()

        nc = await connect(settings, "gateway", on_reconnect=on_reconnect)
        bus = BusClient(nc, default_timeout_s=settings.request_timeout_s)
        journal = SpoolJournal(Path(settings.spool_dir or Path(settings.data_dir) / "spool" / "gateway"))
        publisher = DurablePublisher(
            nc,
            spool_limit=settings.spool_memory_events,
            journal=journal,
            batched={subjects.ACTIVITY_REQUEST_FINISHED: subjects.ACTIVITY_REQUEST_BATCH},
            linger_s=settings.publish_linger_ms / 1000,
        )
        publisher.start()
        admission.backlog = lambda: publisher.backlog
        policy = AddressPolicy.from_settings(settings.upstream_allow, allow_http=settings.upstream_allow_http)
        session = make_session(policy, limit=settings.upstream_connections)
        catalog = CatalogClient(bus, settings)
        keyvault = KeyvaultClient.from_settings(bus, settings)
        holder.update(catalog=catalog, keyvault=keyvault)
        proxy = Proxy(catalog, keyvault, build_adapters(session, settings.provider_base_urls), settings)

        async def catalog_changed(msg: NatsMsg) -> None:
            try:
                event = _changed.decode(msg.data)
            except msgspec.DecodeError:
                return
            catalog.on_changed(event)
            if event.kind == "integration":
                for integration_id in event.ids:
                    keyvault.invalidate(integration_id)
            elif event.kind == "project":
                keyvault.invalidate_org(event.org_id)  # a deleted project must lose its cached keys at once

        async def credential_changed(msg: NatsMsg) -> None:
            try:
                event = _cred_changed.decode(msg.data)
            except msgspec.DecodeError:
                keyvault.clear()
                return
            if event.integration_id:
                keyvault.invalidate(event.integration_id)
            else:
                keyvault.clear()

        await nc.subscribe(subjects.EVENT_CATALOG_CHANGED, cb=catalog_changed)
        await nc.subscribe(subjects.EVENT_CREDENTIAL_CHANGED, cb=credential_changed)
        serve_metrics(settings.metrics_port, settings.metrics_host)
        metrics.register_state(
            lambda: {
                **catalog.cache_stats,
                "keyvault_round_trips": keyvault.round_trips,
                "activity_spool_depth": publisher.backlog,
                "activity_spool_on_disk": publisher.on_disk,
                "inflight_requests": admission.inflight,
            }
        )
        limits = Limits(nc)
        app.state.gw = GatewayState(
            settings=settings,
            bus=bus,
            catalog=catalog,
            proxy=proxy,
            recorder=ActivityRecorder(publisher, limits),
            publisher=publisher,
            limits=limits,
            responses=ResponseStore(nc),
            jobs=JobStore(nc),
        )
        sweeper = JobSweeper(app.state.gw)
        if settings.job_sweep_interval_s > 0:
            sweeper.start()
        gc.freeze()  # what startup built lives as long as the worker: the collector stops rescanning it
        try:
            yield
        finally:
            await sweeper.stop()
            await publisher.stop()
            await session.close()
            await nc.drain()

    def provide_state() -> GatewayState:
        return app.state.gw  # type: ignore[no-any-return]

    app = Gateway(
        route_handlers=[
            *INFERENCE_ROUTES,
            *MESSAGES_ROUTES,
            *COUNT_TOKENS_ROUTES,
            *MODEL_ROUTES,
            *RESPONSES_ROUTES,
            *JOB_ROUTES,
            *HEALTH_ROUTES,
            *PROBE_ROUTES,
            *ACTIVITY_ROUTES,
            *OPENAPI_ROUTES,
            *EXPLAIN_ROUTES,
            management_router(),
            console_router(),
        ],
        template_config=template_config(),
        dependencies={"gw": Provide(provide_state, sync_to_thread=False)},
        lifespan=[lifespan],
        exception_handlers={
            KeyrelayError: handle_keyrelay_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        openapi_config=OpenAPIConfig(title="Keyrelay", version="0.1.0", path="/api/v1/schema"),
        request_max_body_size=settings.max_body_bytes,
        request_class=BodyRequest,
        middleware=[admission.middleware, bounded_headers],  # the cheapest refusal first
        response_cache_config=ResponseCacheConfig(),
        debug=False,
    )
    return app
