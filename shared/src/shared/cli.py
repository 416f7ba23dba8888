"""`keyrelay` command line: bootstrap, serve, up, down, provision, kek generate|rotate, doctor, catalog check.

Service code is imported lazily, so a host with only keyvault installed can still run
`keyrelay serve keyvault` and `keyrelay kek ...`. Commands that talk to a stack find an embedded
one through its data dir (`shared.connection`); with nothing to talk to they say so in one line
and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.connection import START_HINT, NoStackError, discover, running
from shared.logging import configure_logging
from shared.secret import without_credentials
from shared.settings import CommonSettings, SettingsError, load_settings

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient

_SERVICES = {
    "gateway": ("gateway.main", "main"),
    "keyvault": ("keyvault.main", "main"),
    "catalog": ("catalog.main", "main"),
    "activity": ("activity.main", "main"),
}


def _settings() -> CommonSettings:
    """Settings to reach a stack: explicit `KEYRELAY_NATS_*`, else the embedded stack of the data dir."""
    return discover(load_settings(CommonSettings))


async def connect_operator(settings: CommonSettings) -> NatsClient:
    """The operator's NATS connection, or `NoStackError` saying what did not answer."""
    import nats.errors  # noqa: PLC0415

    from shared.bus import connect  # noqa: PLC0415

    try:
        return await asyncio.wait_for(connect(settings, "operator", max_reconnect_attempts=1), timeout=10)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise NoStackError(
            f"cannot connect to NATS at {without_credentials(settings.nats_url)} ({type(exc).__name__}): {START_HINT}, "
            "or check KEYRELAY_NATS_URL, KEYRELAY_NATS_USER and KEYRELAY_NATS_PASSWORD"
        ) from None


async def _bootstrap(settings: CommonSettings, org: str, email: str) -> dict[str, Any]:
    from shared import subjects  # noqa: PLC0415
    from shared.bus import BusClient  # noqa: PLC0415
    from shared.messages.catalog import BootstrapReply, BootstrapRequest  # noqa: PLC0415
    from shared.tokens import hash_token, new_member_token  # noqa: PLC0415

    owner_token = new_member_token()  # made here: only its hash crosses the bus
    nc = await connect_operator(settings)
    try:
        reply = await BusClient(nc).request(
            subjects.CATALOG_BOOTSTRAP,
            BootstrapRequest(org_name=org, owner_email=email, owner_token_hash=hash_token(owner_token)),
            BootstrapReply,
            timeout_s=10.0,
            dependency="catalog",
        )
    finally:
        await nc.close()
    return {"org_id": reply.org_id, "owner_token": owner_token, "project_id": reply.project_id}


def cmd_bootstrap(args: argparse.Namespace) -> int:
    settings = _settings()
    print(json.dumps(asyncio.run(_bootstrap(settings, args.org, args.owner_email))), flush=True)
    found = running(Path(settings.data_dir))
    gateway = found.gateway_url if found is not None else "http://127.0.0.1:8080"
    print(
        "The owner token is shown once; call the management API with it, e.g. "
        f'curl -H "Authorization: Bearer $OWNER_TOKEN" {gateway}/api/v1/providers',
        file=sys.stderr,
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    module_name, func = _SERVICES[args.service]
    module = importlib.import_module(module_name)
    getattr(module, func)()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from shared import up  # noqa: PLC0415

    data_dir = Path(args.data_dir) if args.data_dir else None
    if args.background:
        argv = [*(["--data-dir", args.data_dir] if args.data_dir else [])]
        argv += ["--nats-port", str(args.nats_port), "--mongo-port", str(args.mongo_port)]
        return up.up_in_background(argv, data_dir)
    return up.up(data_dir, nats_port=args.nats_port, mongo_port=args.mongo_port)


def cmd_down(args: argparse.Namespace) -> int:
    from shared import up  # noqa: PLC0415

    return up.down(Path(args.data_dir) if args.data_dir else None)


def cmd_provision(_: argparse.Namespace) -> int:
    from shared.provision import ProvisionSettings, provision_with  # noqa: PLC0415

    settings = load_settings(ProvisionSettings)  # what to provision: stream limits, replicas

    async def run() -> list[str]:
        nc = await connect_operator(_settings())  # where: explicit settings or the embedded stack
        try:
            return await provision_with(nc, settings)
        finally:
            await nc.close()

    for line in asyncio.run(run()):
        print(line)
    return 0


def cmd_kek(args: argparse.Namespace) -> int:
    module = importlib.import_module("keyvault.cli")
    settings = _settings() if args.kek_command == "rotate" else None
    return int(module.main(args.kek_command, args, settings))


def cmd_doctor(_: argparse.Namespace) -> int:
    module = importlib.import_module("shared.doctor")
    settings = _settings()
    return int(asyncio.run(module.doctor(settings, running(Path(settings.data_dir)))))


def cmd_catalog(args: argparse.Namespace) -> int:
    """Validate the model catalog (built in, plus the operator's models file) offline."""
    module = importlib.import_module("catalog.check")
    report = module.check_catalog(args.models_file or os.environ.get("KEYRELAY_MODELS_FILE") or None)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


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
    up.add_argument("--data-dir", default=None, help="default: KEYRELAY_DATA_DIR, else ./.keyrelay")
    up.add_argument("--nats-port", type=int, default=0, help="default: a free port")
    up.add_argument("--mongo-port", type=int, default=0, help="default: a free port")
    up.add_argument("--background", action="store_true", help="detach once the stack answers")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop a stack started with `up --background`")
    down.add_argument("--data-dir", default=None)
    down.set_defaults(func=cmd_down)
    provision = sub.add_parser(
        "provision", help="create or update the JetStream stream, consumer and KV buckets (operator credentials)"
    )
    provision.set_defaults(func=cmd_provision)
    kek = sub.add_parser("kek", help="key-encryption keys of keyvault")
    kek.add_argument("kek_command", choices=["generate", "rotate"])
    kek.set_defaults(func=cmd_kek)
    doctor = sub.add_parser("doctor", help="check NATS, MongoDB, JetStream durability and keyvault")
    doctor.set_defaults(func=cmd_doctor)
    catalog = sub.add_parser("catalog", help="the model catalog's data")
    catalog.add_argument("catalog_command", choices=["check"], help="validate it and list the models without a price")
    catalog.add_argument("--models-file", default=None, help="default: KEYRELAY_MODELS_FILE (extra or override models)")
    catalog.set_defaults(func=cmd_catalog)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(fmt="console", level="error")  # a command says what went wrong in one line itself
    try:
        return int(args.func(args))
    except (SettingsError, NoStackError) as exc:
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
