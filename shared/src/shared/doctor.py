"""`keyrelay doctor`: is everything this installation depends on there and durable?

Checks NATS (connect), JetStream (the activity stream exists, file storage, `discard: new`,
deduplication window, replicas), MongoDB (ping) and that keyvault, catalog and activity answer.
For an embedded stack (`keyrelay up`) it also shows every supervised process (running, or down
and being restarted, with the reason and its log) and what the gateway's `/readyz` reports.
Prints one line per check and exits non-zero if any failed.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable

from shared import subjects
from shared.bus import BusClient, connect
from shared.connection import StackFile, alive
from shared.errors import KeyrelayError
from shared.messages.base import Ping, Pong
from shared.secret import without_credentials
from shared.settings import CommonSettings

Check = tuple[str, bool, str]


async def _check(name: str, probe: Callable[[], Awaitable[str]]) -> Check:
    try:
        return name, True, await probe()
    except (KeyrelayError, OSError, TimeoutError) as exc:
        return name, False, getattr(exc, "message", "") or type(exc).__name__
    except Exception as exc:
        return name, False, type(exc).__name__


def process_checks(stack: StackFile) -> list[Check]:
    """One line per supervised process of an embedded stack."""
    out: list[Check] = []
    for name, child in stack.children.items():
        restarts = f"; restarted {child.restarts}x, last {child.last_exit}" if child.restarts else ""
        if child.state == "running" and alive(child.pid):
            out.append((f"process {name}", True, f"pid {child.pid}{restarts}"))
        else:
            why = child.last_exit or "not running"
            out.append((f"process {name}", False, f"down ({why}), being restarted; log {child.log}"))
    return out


def _readyz(gateway_url: str) -> Callable[[], Awaitable[str]]:
    def fetch() -> str:
        try:
            with urllib.request.urlopen(f"{gateway_url}/readyz", timeout=3) as resp:  # noqa: S310 - our own gateway
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        down = sorted(k for k, v in body.get("checks", {}).items() if v != "ok")
        if down:
            raise KeyrelayError("dependency_unavailable", f"/readyz: not ready, down: {', '.join(down)}")
        return f"{gateway_url}/readyz: ready"

    async def probe() -> str:
        return await asyncio.to_thread(fetch)

    return probe


def _print(checks: list[Check]) -> int:
    for name, ok, detail in checks:
        print(f"{'ok  ' if ok else 'FAIL'}  {name:<18} {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


async def doctor(settings: CommonSettings, stack: StackFile | None = None) -> int:
    checks: list[Check] = []
    if stack is not None:
        checks += process_checks(stack)
        checks.append(await _check("gateway", _readyz(stack.gateway_url)))
    try:
        nc = await asyncio.wait_for(connect(settings, "operator", max_reconnect_attempts=1), timeout=5)
    except Exception as exc:
        where = without_credentials(settings.nats_url)
        checks.append(("nats", False, f"cannot connect to {where} ({type(exc).__name__})"))
        return _print(checks)
    host = nc.connected_url.netloc.rpartition("@")[2] if nc.connected_url else "?"  # never a user:password
    checks.append(("nats", True, f"connected to {host}"))
    bus = BusClient(nc, default_timeout_s=2.0)

    async def jetstream() -> str:
        info = await nc.jetstream().stream_info(subjects.ACTIVITY_STREAM)
        config = info.config
        problems = []
        if str(config.storage).lower().find("file") < 0:
            problems.append("storage is not file")
        if str(config.discard).lower().find("new") < 0:
            problems.append("discard is not new")
        if not config.duplicate_window:
            problems.append("no duplicate window")
        if problems:
            raise KeyrelayError("internal_error", ", ".join(problems))
        return (
            f"{subjects.ACTIVITY_STREAM}: file storage, discard new, replicas {config.num_replicas}, "
            f"{info.state.messages} msgs"
        )

    async def mongo() -> str:
        from pymongo import AsyncMongoClient  # noqa: PLC0415 - only operators' hosts need it

        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            settings.mongodb_uri, serverSelectionTimeoutMS=3000
        )
        try:
            await client.admin.command("ping")
        finally:
            await client.close()
        return "ping ok"

    def service(subject: str) -> Callable[[], Awaitable[str]]:
        async def probe() -> str:
            pong = await bus.request(subject, Ping(), Pong, timeout_s=2.0)
            return pong.detail or "answers"

        return probe

    checks.append(await _check("jetstream", jetstream))
    checks.append(await _check("mongodb", mongo))
    for name, subject in (
        ("keyvault", subjects.KEYVAULT_PING),
        ("catalog", subjects.CATALOG_PING),
        ("activity", subjects.ACTIVITY_PING),
    ):
        checks.append(await _check(name, service(subject)))
    await nc.close()
    return _print(checks)
