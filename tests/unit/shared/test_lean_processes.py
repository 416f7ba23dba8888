"""Each service's process loads what it uses (`shared.lean`): no `rich` anywhere, no aiohttp or uvicorn
outside the gateway, no Starlette or OpenTelemetry in a gateway worker; console logs still render
plain tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shared.lean import import_without
from shared.logging import configure_logging, get_logger

# What `python -m shared.cli serve <service>` imports before it serves (the gateway: a worker's app)
ENTRY = {
    "keyvault": "import keyvault.main, keyvault.app",
    "catalog": "import catalog.main, catalog.app",
    "activity": "import activity.main, activity.app",
    "gateway": "import gateway.main\ngateway.main.app_factory()",  # what a granian worker runs
}


def _loaded_in_a_fresh_process(code: str, names: tuple[str, ...]) -> dict[str, bool]:
    report = f"import json, sys\nprint(json.dumps({{n: n in sys.modules for n in {names!r}}}))"
    probe = f"import shared.cli\n{code}\n{report}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("service", sorted(ENTRY))
def test_no_service_process_loads_rich(service: str) -> None:
    """`rich` (installed with Litestar) costs 3-5 MiB per process and no service uses it."""
    assert _loaded_in_a_fresh_process(ENTRY[service], ("rich", "pygments")) == {"rich": False, "pygments": False}


@pytest.mark.parametrize("service", ["keyvault", "catalog", "activity"])
def test_the_services_without_an_http_client_do_not_load_aiohttp_or_uvicorn(service: str) -> None:
    """nats-py's websocket transport and FastStream's ASGI helpers stay out of the bus-only services."""
    loaded = _loaded_in_a_fresh_process(ENTRY[service], ("aiohttp", "uvicorn", "nats", "structlog"))
    assert loaded == {"aiohttp": False, "uvicorn": False, "nats": True, "structlog": True}


def test_a_gateway_worker_does_not_load_litestars_unused_integrations() -> None:
    loaded = _loaded_in_a_fresh_process(ENTRY["gateway"], ("starlette", "opentelemetry", "litestar", "aiohttp"))
    assert loaded == {"starlette": False, "opentelemetry": False, "litestar": True, "aiohttp": True}


def test_the_keyvault_process_stays_free_of_pydantic() -> None:
    assert _loaded_in_a_fresh_process(ENTRY["keyvault"], ("pydantic",)) == {"pydantic": False}


def test_a_package_hidden_while_a_library_loads_is_importable_afterwards(tmp_path: Path) -> None:
    """The library sees the optional package as missing; the rest of the process can still use it."""
    (tmp_path / "optional_thing.py").write_text("VALUE = 1\n")
    (tmp_path / "library_with_extras.py").write_text(
        textwrap.dedent(
            """
            try:
                import optional_thing
            except ImportError:
                optional_thing = None
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        library = import_without("library_with_extras", "optional_thing")
        assert library.optional_thing is None
        import optional_thing  # type: ignore[import-not-found]  # noqa: PLC0415

        assert optional_thing.VALUE == 1
        assert import_without("library_with_extras", "optional_thing") is library  # loaded once
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("optional_thing", "library_with_extras"):
            sys.modules.pop(name, None)


def _crash() -> None:
    raise ValueError("console boom")


def test_the_console_log_still_renders_a_plain_traceback() -> None:
    stream = io.StringIO()
    configure_logging(fmt="console", level="info", cache=False, stream=stream)
    try:
        _crash()
    except ValueError as exc:
        get_logger().error("crashed", exc_info=exc)
    text = stream.getvalue()
    assert "crashed" in text
    assert "Traceback (most recent call last):" in text
    assert "ValueError: console boom" in text
