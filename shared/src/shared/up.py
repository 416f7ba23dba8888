"""`keyrelay up` (= `just up` = `./run up`) and `keyrelay down`.

`up` runs the whole stack on the embedded defaults (nats-server, SecantusDB, the four services)
in the foreground, talking to the real providers, with every `KEYRELAY_*` setting of the
environment and `.env` passed on to the services (secrets only to the services that need them).
It writes `<data dir>/stack.json` (0600) so the CLI finds the stack, supervises the children
(`shared.supervisor`) and, on Ctrl-C, TERM or HUP, stops all of them. `--background` detaches
(output in `<data dir>/logs/up.log`); `keyrelay down` stops a background stack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from shared import connection
from shared.logging import configure_logging, get_logger
from shared.secret import Secret
from shared.settings import PREFIX, CommonSettings, load_settings
from shared.stack import EmbeddedStack
from shared.supervisor import Supervisor

log = get_logger("keyrelay.up")

# Settings `up` decides itself for every child (the embedded NATS and database, per-service users).
_STACK_OWNED = frozenset(
    f"{PREFIX}{name}"
    for name in (
        "NATS_URL",
        "NATS_USER",
        "NATS_PASSWORD",
        "NATS_TLS_CA",
        "MONGODB_URI",
        "METRICS_PORT",
        "DATA_DIR",
        "ENV_FILE",
        "HTTP_HOST",
        "HTTP_PORT",
        "LOG_FORMAT",
        "LOG_LEVEL",
    )
)
_IGNORED_NOTE = ("KEYRELAY_NATS_URL", "KEYRELAY_MONGODB_URI")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class UpSettings(CommonSettings, frozen=True, kw_only=True):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    provider_base_urls: dict[str, str] = {}
    upstream_allow: str = ""


class _Interrupted(Exception):
    """A stop signal arrived while the stack was still starting."""


def _is_secret(name: str) -> bool:
    return name.startswith(f"{PREFIX}KEYVAULT_") or name.endswith(("_SIGNING_KEY", "_PUBLIC_KEY"))


def split_settings(given: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(settings every service gets, key material routed per service by the stack)."""
    shared = {
        k: v
        for k, v in given.items()
        if k not in _STACK_OWNED and not k.startswith((f"{PREFIX}NATS_PASSWORD", f"{PREFIX}MONGODB_PASSWORD"))
    }
    secrets = {k: v for k, v in shared.items() if _is_secret(k)}
    return {k: v for k, v in shared.items() if k not in secrets}, secrets


def _can_listen(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _banner(stack: EmbeddedStack, settings: UpSettings) -> str:
    overrides = ", ".join(f"{p} -> {u}" for p, u in sorted(settings.provider_base_urls.items()))
    providers = f"overridden by KEYRELAY_PROVIDER_BASE_URLS: {overrides}" if overrides else "their real APIs"
    lines = [
        f"Keyrelay is up: {stack.gateway_url}   (Ctrl-C stops everything)",
        f"  providers  {providers}",
        f"  data       {stack.data_dir}  (JetStream, database, secrets.env; logs in {stack.logs})",
        f"  nats       {stack.nats_url}   mongodb 127.0.0.1:{stack.mongo_port} (users and passwords in secrets.env)",
        "  next       ./run bootstrap --org Acme --owner-email you@example.com",
    ]
    return "\n".join(lines)


def _stack_file(stack: EmbeddedStack, supervisor: Supervisor | None) -> connection.StackFile:
    return connection.StackFile(
        pid=os.getpid(),
        data_dir=str(stack.data_dir),
        gateway_url=stack.gateway_url,
        nats_url=stack.nats_url,
        nats_user="operator",
        nats_password=Secret(stack.password("operator")),
        mongodb_uri=stack.mongodb_uri,
        logs=str(stack.logs),
        children=supervisor.states() if supervisor else {},
    )


def up(data_dir: Path | None, *, nats_port: int = 0, mongo_port: int = 0) -> int:
    settings = load_settings(UpSettings)
    data = (data_dir or Path(settings.data_dir)).resolve()
    running = connection.running(data)
    if running is not None:
        print(
            f"keyrelay: a stack is already running with data dir {data} (pid {running.pid}, "
            f"{running.gateway_url}); `./run down` stops it",
            file=sys.stderr,
        )
        return 2
    if not _can_listen(settings.http_host, settings.http_port):
        print(
            f"keyrelay: {settings.http_host}:{settings.http_port} is already in use; "
            "set KEYRELAY_HTTP_PORT (or KEYRELAY_HTTP_HOST) to a free address",
            file=sys.stderr,
        )
        return 2
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="up")
    given = connection.given_settings()
    for name in _IGNORED_NOTE:
        if name in given:
            log.warning("up.setting_ignored", setting=name, why="keyrelay up runs its own embedded NATS and database")
    shared, secrets = split_settings(given)
    stack = EmbeddedStack(
        data_dir=data,
        http_host=settings.http_host,
        http_port=settings.http_port,
        nats_port=nats_port,
        mongo_port=mongo_port,
        extra_env=shared,
        secret_overrides=secrets,
        log_format=settings.log_format,
        log_level=settings.log_level,
    )
    stop = threading.Event()
    starting = True

    def on_signal(signum: int, _: FrameType | None) -> None:
        stop.set()
        if starting:
            raise _Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
    supervisor: Supervisor | None = None
    try:
        stack.start()
        starting = False
        supervisor = Supervisor(stack.children)
        connection.write(data, _stack_file(stack, supervisor))
        print(_banner(stack, settings), flush=True)
        while not stop.wait(0.2):
            if supervisor.poll():
                connection.write(data, _stack_file(stack, supervisor))
    except _Interrupted:
        pass
    except (OSError, RuntimeError, TimeoutError) as exc:
        where = "" if str(stack.logs) in str(exc) else f"; logs in {stack.logs}"
        print(f"keyrelay: the stack did not start: {exc}{where}", file=sys.stderr)
        return 1
    finally:
        starting = False
        began = time.monotonic()
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        print("Stopping Keyrelay ...", flush=True)
        stack.stop()
        connection.remove(data, os.getpid())
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print(f"Keyrelay stopped: every process ended in {time.monotonic() - began:.1f} s", flush=True)
    return 0


def up_in_background(argv: list[str], data_dir: Path | None, *, timeout_s: float = 90.0) -> int:
    """Start `keyrelay up` detached; return once its stack answers (or it failed)."""
    settings = load_settings(UpSettings)
    data = (data_dir or Path(settings.data_dir)).resolve()
    running = connection.running(data)
    if running is not None:
        print(f"Keyrelay is already running: {running.gateway_url} (pid {running.pid}); `./run down` stops it")
        return 0
    out = data / "logs" / "up.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("ab") as sink:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "shared.cli", "up", *argv],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = connection.running(data)
        if found is not None and found.pid == proc.pid:
            print(f"Keyrelay is up in the background: {found.gateway_url} (pid {proc.pid})")
            print(f"  data {data}; output in {out}; `./run down` stops it")
            print("  next: ./run bootstrap --org Acme --owner-email you@example.com")
            return 0
        if proc.poll() is not None:
            print(f"keyrelay: the stack did not start; see {out}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    proc.terminate()
    print(f"keyrelay: the stack was not up after {timeout_s:.0f} s; see {out}", file=sys.stderr)
    return 1


def down(data_dir: Path | None, *, timeout_s: float = 20.0) -> int:
    data = (data_dir or Path(load_settings(CommonSettings).data_dir)).resolve()
    found = connection.running(data)
    if found is None:
        print(f"no Keyrelay stack is running with data dir {data}")
        return 0
    os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while connection.alive(found.pid):
        if time.monotonic() > deadline:
            print(f"keyrelay: pid {found.pid} did not stop in {timeout_s:.0f} s", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"Keyrelay stopped (pid {found.pid})")
    return 0
