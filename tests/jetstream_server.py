"""A lone nats-server with JetStream on a free loopback port, for tests of one piece on the bus."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.embedded import Child, executable, free_port, wait_for_port


@contextmanager
def jetstream_server(root: Path) -> Iterator[str]:
    """Its URL while it runs, its store and log under `root`; stopped on the way out."""
    port = free_port()
    child = Child(
        "nats-server",
        [executable("nats-server"), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(root / "js")],
        root / "nats.log",
    ).start()
    try:
        wait_for_port(port, proc=child.proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        child.stop()
