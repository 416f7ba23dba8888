"""A real SecantusDB (a separate process on a free loopback port) and an `ActivityRepository` on a
fresh database per test."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from activity.repository import ActivityRepository
from shared.embedded import free_port, wait_for_port


@pytest.fixture(scope="session")
def activity_mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("activity-store")
    port = free_port()
    with (root / "mongo.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(root / "mongo"),
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, proc=proc, timeout_s=30)
            yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
async def client(activity_mongo_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(activity_mongo_uri, tz_aware=True)
    try:
        yield mongo
    finally:
        await mongo.close()


@pytest.fixture
def db_name() -> str:
    return f"activity_{secrets.token_hex(4)}"


@pytest.fixture
async def repo(client: AsyncMongoClient[dict[str, Any]], db_name: str) -> ActivityRepository:
    repository = ActivityRepository(client, db_name)
    await repository.ensure_indexes(90)
    return repository


@pytest.fixture
def raw(client: AsyncMongoClient[dict[str, Any]], db_name: str) -> AsyncDatabase[dict[str, Any]]:
    """The same database read directly, to check the repository against."""
    return client[db_name]
