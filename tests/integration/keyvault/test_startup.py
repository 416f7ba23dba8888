"""`python -m keyvault` refuses to start on bad key material: exit status 2, a clear message, no value."""

from __future__ import annotations

import base64
import json
import secrets
import signal
from typing import Any

import pytest

from shared.settings import read_env_file
from tests.integration.keyvault.conftest import REPO_ROOT, Kv, db_of, kek_env

SAMPLE = read_env_file(REPO_ROOT / "deploy" / "keyvault.env.sample")
ZERO = base64.b64encode(bytes(32)).decode()
SHORT = base64.b64encode(secrets.token_bytes(16)).decode()


@pytest.mark.parametrize(
    ("overrides", "phrase", "value"),
    [
        ({"KEYRELAY_KEYVAULT_KEKS": "{}"}, "no key-encryption key", None),
        (
            {"KEYRELAY_KEYVAULT_KEKS": json.dumps({"k": SHORT}), "KEYRELAY_KEYVAULT_PRIMARY_KEK": "k"},
            "must decode to 32 bytes",
            SHORT,
        ),
        ({"KEYRELAY_KEYVAULT_KEKS": json.dumps({"k": ZERO}), "KEYRELAY_KEYVAULT_PRIMARY_KEK": "k"}, "all zero", None),
        (
            {k: v for k, v in SAMPLE.items() if k.startswith("KEYRELAY_KEYVAULT_")},
            "placeholder",
            SAMPLE["KEYRELAY_KEYVAULT_PRIMARY_KEK"] and json.loads(SAMPLE["KEYRELAY_KEYVAULT_KEKS"])["kek-sample-2"],
        ),
        (
            {**kek_env({"k": secrets.token_bytes(32)}, "k"), "KEYRELAY_KEYVAULT_PRIMARY_KEK": "nope"},
            "names no KEK",
            None,
        ),
    ],
    ids=["no-kek", "short-kek", "all-zero-kek", "sample-file", "unknown-primary"],
)
def test_keyvault_refuses_to_start_and_says_why(
    kv_spawn: Any, overrides: dict[str, str], phrase: str, value: str | None
) -> None:
    """The process exits with status 2 before connecting anywhere; the message names the problem, not the key."""
    process = kv_spawn(wait=False, **overrides)
    assert process.wait_exit() == 2
    output = process.log_text()
    assert "refusing to start" in output
    assert phrase in output
    assert "service.started" not in output
    if value:
        assert value not in output


async def test_sigterm_drains_and_exits_cleanly(kv: Kv, kv_spawn: Any) -> None:
    """On SIGTERM keyvault stops taking requests, flushes its audit events and exits with status 0."""
    process = kv_spawn()
    kv.db = db_of(process)
    _, integration_id = await kv.create()
    assert process.proc is not None
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait_exit() == 0
    assert "service.stopping" in process.log_text()
    assert [e.action for e in await kv.audit_events(integration_id)] == ["credential.create"]
