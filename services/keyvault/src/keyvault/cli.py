"""`keyrelay kek generate|rotate`.

`generate` prints a fresh KEK (id + base64) to add to keyvault's settings. `rotate` asks the running
keyvault (over NATS, as the operator user) to re-wrap every record under its primary KEK; the KEKs
never leave the keyvault host. It is safe to run again after an interruption.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from shared import subjects
from shared.bus import BusClient, connect
from shared.messages.keyvault import Rotated, RotateKeks
from shared.settings import CommonSettings, load_settings
from shared.vault.devkeys import new_kek

_HINT = (
    "add it to KEYRELAY_KEYVAULT_KEKS, make it KEYRELAY_KEYVAULT_PRIMARY_KEK, restart keyvault, "
    "then run `keyrelay kek rotate`"
)


def kek_generate() -> tuple[str, str]:
    """A new KEK: (id, base64 of 32 random bytes)."""
    return new_kek()


async def rotate_via_bus(settings: CommonSettings, *, batch: int = 100, timeout_s: float = 600.0) -> Rotated:
    nc = await connect(settings, "operator", max_reconnect_attempts=3)
    try:
        reply = await BusClient(nc).request(
            subjects.KEYVAULT_ROTATE, RotateKeks(batch=batch), Rotated, timeout_s=timeout_s, dependency="keyvault"
        )
        return reply
    finally:
        await nc.close()


def main(command: str, _: argparse.Namespace, settings: CommonSettings | None = None) -> int:
    """`settings`: how to reach the stack (the CLI finds an embedded one); default from the environment."""
    if command == "generate":
        kek_id, value = kek_generate()
        print(json.dumps({"kek_id": kek_id, "kek": value, "hint": _HINT}))
        return 0
    result = asyncio.run(rotate_via_bus(settings or load_settings(CommonSettings)))
    print(
        json.dumps(
            {"rewrapped": result.rewrapped, "remaining_on_old": result.remaining_on_old, "failed": result.failed}
        )
    )
    return 0 if result.remaining_on_old == 0 else 1
