"""`keyrelay` command line: bootstrap, serve, up, kek generate|rotate, doctor.

Service code is imported lazily, so a host with only keyvault installed can still run
`keyrelay serve keyvault` and `keyrelay kek ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from shared.logging import configure_logging
from shared.settings import CommonSettings, SettingsError, load_settings

_SERVICES = {
    "gateway": ("gateway.main", "main"),
    "keyvault": ("keyvault.main", "main"),
    "catalog": ("catalog.main", "main"),
    "activity": ("activity.main", "main"),
}


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)


async def _bootstrap(org: str, email: str) -> dict[str, Any]:
    from shared import subjects  # noqa: PLC0415
    from shared.bus import BusClient, connect  # noqa: PLC0415
    from shared.messages.catalog import BootstrapReply, BootstrapRequest  # noqa: PLC0415

    nc = await connect(_settings(), "operator", max_reconnect_attempts=3)
    try:
        reply: BootstrapReply = await BusClient(nc).request(
            subjects.CATALOG_BOOTSTRAP,
            BootstrapRequest(org_name=org, owner_email=email),
            BootstrapReply,
            timeout_s=10.0,
            dependency="catalog",
        )
    finally:
        await nc.close()
    return {"org_id": reply.org_id, "owner_token": reply.owner_token, "project_id": reply.project_id}


def cmd_bootstrap(args: argparse.Namespace) -> int:
    print(json.dumps(asyncio.run(_bootstrap(args.org, args.owner_email))))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    module_name, func = _SERVICES[args.service]
    module = importlib.import_module(module_name)
    getattr(module, func)()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from shared.runner import wait_for_stop_signal  # noqa: PLC0415
    from shared.stack import EmbeddedStack  # noqa: PLC0415

    stack = EmbeddedStack(
        data_dir=Path(args.data_dir),
        http_port=args.port,
        nats_port=args.nats_port,
        mongo_port=args.mongo_port,
        log_format="console",
    )
    try:
        stack.start()
        mongodb = f"127.0.0.1:{stack.mongo_port} (users and passwords in {stack.data_dir / 'secrets.env'})"
        print(f"Keyrelay is up: gateway {stack.gateway_url}  nats {stack.nats_url}  mongodb {mongodb}")
        print(f"logs: {stack.logs}   (Ctrl-C stops everything)")
        sys.stdout.flush()
        asyncio.run(wait_for_stop_signal())
    finally:
        stack.stop()
    return 0


def cmd_kek(args: argparse.Namespace) -> int:
    module = importlib.import_module("keyvault.cli")
    return int(module.main(args.kek_command, args))


def cmd_doctor(_: argparse.Namespace) -> int:
    module = importlib.import_module("shared.doctor")
    return int(asyncio.run(module.doctor(_settings())))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyrelay", description="Keyrelay: a self-hosted BYOK LLM gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    boot = sub.add_parser("bootstrap", help="create an org, its owner and a default project")
    boot.add_argument("--org", required=True)
    boot.add_argument("--owner-email", required=True)
    boot.set_defaults(func=cmd_bootstrap)
    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=sorted(_SERVICES))
    serve.set_defaults(func=cmd_serve)
    up = sub.add_parser("up", help="run the whole stack with the embedded defaults until Ctrl-C")
    up.add_argument("--data-dir", default=".keyrelay")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--nats-port", type=int, default=4222)
    up.add_argument("--mongo-port", type=int, default=27017)
    up.set_defaults(func=cmd_up)
    kek = sub.add_parser("kek", help="key-encryption keys of keyvault")
    kek.add_argument("kek_command", choices=["generate", "rotate"])
    kek.set_defaults(func=cmd_kek)
    doctor = sub.add_parser("doctor", help="check NATS, MongoDB, JetStream durability and keyvault")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(fmt="console", level="warning")
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"keyrelay: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        code = getattr(exc, "code", type(exc).__name__)
        print(f"keyrelay: {code}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
