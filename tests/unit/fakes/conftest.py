"""Fixtures for testing the fake providers themselves: one fake per module, a key for every family."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from tests.fakes.providers import FakeOptions, run_fake_providers
from tests.fakes.providers.registry import ALL_FAMILIES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.fakes.providers import FakeProviderServer

KEYS = {family.name: f"{family.name}-key-0123456789abcdef" for family in ALL_FAMILIES}


@pytest.fixture(scope="module")
async def providers() -> AsyncIterator[FakeProviderServer]:
    """A fake that knows one key per family; faster SSE writes keep the suite quick."""
    async with run_fake_providers(
        {name: [key] for name, key in KEYS.items()}, options=FakeOptions(write_delay_s=0.0005)
    ) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client, for checking wire details the SDKs hide."""
    async with aiohttp.ClientSession() as session:
        yield session


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) pairs of an SSE body; comment lines are dropped."""
    events: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def json_events(text: str) -> list[Any]:
    return [msgspec.json.decode(data) for _, data in parse_sse(text) if data != "[DONE]"]
