"""Objects the HTTP handlers share, built once in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog_client import CatalogClient
from gateway.jobs import JobStore
from gateway.limits import Limits
from gateway.proxy import Proxy
from gateway.recorder import ActivityRecorder
from gateway.responses_store import ResponseStore
from gateway.settings import GatewaySettings
from shared.bus import BusClient
from shared.publisher import DurablePublisher


@dataclass(slots=True)
class GatewayState:
    settings: GatewaySettings
    bus: BusClient
    catalog: CatalogClient
    proxy: Proxy
    recorder: ActivityRecorder
    publisher: DurablePublisher
    limits: Limits
    responses: ResponseStore
    jobs: JobStore
