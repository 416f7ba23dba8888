"""`keyrelay kek generate|rotate`."""

from __future__ import annotations

import argparse
import asyncio
import json

from shared import subjects
from shared.bus import BusClient, connect
from shared.messages.keyvault import Rotated, RotateKeks
from shared.settings import CommonSettings, load_settings
from shared.vault.devkeys import new_kek


async def _rotate() -> Rotated:
    nc = await connect(load_settings(CommonSettings), "operator", max_reconnect_attempts=3)
    try:
        reply: Rotated = await BusClient(nc).request(subjects.KEYVAULT_ROTATE, RotateKeks(), Rotated, timeout_s=600.0,
                                                     dependency="keyvault")
        return reply
    finally:
        await nc.close()


def main(command: str, _: argparse.Namespace) -> int:
    if command == "generate":
        kek_id, value = new_kek()
        print(json.dumps({"kek_id": kek_id, "kek": value,
                          "hint": "add to KEYRELAY_KEYVAULT_KEKS, set KEYRELAY_KEYVAULT_PRIMARY_KEK, restart keyvault, "
                                  "then run `keyrelay kek rotate`"}))
        return 0
    result = asyncio.run(_rotate())
    print(json.dumps({"rewrapped": result.rewrapped, "remaining_on_old": result.remaining_on_old}))
    return 0 if result.remaining_on_old == 0 else 1
