"""Import a library without the optional integrations Keyrelay never uses (memory per process).

Some libraries import an optional package at import time whenever it is installed, whether or
not the process will use it: structlog loads `rich` (and `pygments`) for its rich tracebacks,
nats-py loads `aiohttp` for its websocket transport, FastStream loads `uvicorn` for its ASGI
helpers. Each of these is installed for another reason (`rich` comes with Litestar; the development
environment, which `./run up` uses, also holds the test clients' dependencies) and costs 2-8 MiB of
RSS in every process that imports it. Each library treats an `ImportError` as "not installed",
so `import_without` loads it with those packages hidden for the time of that one import; anyone
who needs them later imports them as usual.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without(module: str, *optional: str) -> ModuleType:
    """Import `module` as if the `optional` packages were not installed (a no-op once `module` is
    loaded; an optional package the process already loaded stays visible: hiding it saves nothing)."""
    if module in sys.modules:
        return sys.modules[module]
    hidden = [name for name in optional if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment] # `import name` raises ImportError meanwhile
    try:
        return importlib.import_module(module)
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
