"""Load libraries without the optional integrations Keyrelay never uses (memory per process).

Some libraries load an optional package whenever it is installed, whether or not the process will
use it: structlog loads `rich` (and `pygments`) for its rich tracebacks, nats-py loads `aiohttp`
for its websocket transport, FastStream loads `uvicorn` for its ASGI helpers, and Litestar looks
for Starlette and OpenTelemetry when an app is made. Each is installed for another reason (`rich`
comes with Litestar; the development environment, which `./run up` uses, also holds the test
clients' dependencies) and costs 1-8 MiB of RSS in every process that loads it. These libraries
treat an `ImportError` as "not installed", so `import_without` loads one (and `hidden` runs a
block) with those packages hidden for that time; whoever needs them later imports them as usual.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


def import_without(module: str, *optional: str) -> ModuleType:
    """Import `module` as if the `optional` packages were not installed (a no-op once it is loaded)."""
    if module in sys.modules:
        return sys.modules[module]
    with hidden(*optional):
        return importlib.import_module(module)


@contextmanager
def hidden(*optional: str) -> Iterator[None]:
    """Within the block, `import <optional>` raises ImportError; a package the process already loaded
    stays visible (hiding it would save nothing)."""
    names = [name for name in optional if name not in sys.modules]
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in names:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
