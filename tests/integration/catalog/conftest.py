"""A real SecantusDB (alone, on a free loopback port) for catalog's repository."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.embedded import free_port, wait_for_port


@pytest.fixture(scope="session")
def catalog_mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("catalog-db")
    port = free_port()
    with (root / "mongo.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)),
                *("--storage-path", str(root / "mongo"), "--log-level", "WARNING"),
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
