"""A real nats-server with JetStream for the publisher's tests (one per module), and a client on
it whose streams are deleted after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client as NatsClient

from tests.jetstream_server import jetstream_server


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jetstream_server(tmp_path_factory.mktemp("nats-publisher")) as url:
        yield url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    yield client
    js = client.jetstream()
    for stream in await js.streams_info():
        await js.delete_stream(stream.config.name or "")
    await client.close()
