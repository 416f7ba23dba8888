"""KEK rotation: re-wraps every record under the primary, resumable, and reveals keep working throughout."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from typing import Any

import pytest

from keyvault.crypto import Sealer
from keyvault.floors import VersionFloors
from keyvault.repository import CredentialRecord, CredentialRepository
from keyvault.rotation import rotate
from keyvault.settings import check_random, decode_key
from shared import subjects
from shared.errors import KeyrelayError
from shared.messages import keyvault as kvm
from tests.integration.keyvault.conftest import REPO_ROOT, Kv, KvServers, db_of, kek_env

K1, K2 = secrets.token_bytes(32), secrets.token_bytes(32)


def floors(kv_: Kv) -> VersionFloors:
    return VersionFloors(kv_.nc.jetstream())


async def seed(kv_: Kv, kv_spawn: Any, count: int) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
    """`count` records written by a keyvault whose only KEK is k1; returns (db, ids, envelopes before)."""
    first = kv_spawn(**kek_env({"k1": K1}, "k1"))
    kv_.db = db_of(first)
    ids = [await kv_.create() for _ in range(count)]
    first.stop()
    before = {d["_id"]: d["envelope"] async for d in kv_.collection.find({})}
    assert {e["kek_id"] for e in before.values()} == {"k1"}
    return kv_.db, ids, before


async def reveal_all(kv_: Kv, ids: list[tuple[str, str]]) -> None:
    for org_id, integration_id in ids:
        revealed = await kv_.reveal(org_id, integration_id)
        assert revealed.credential.api_key is not None


async def test_rotation_under_traffic_keeps_every_reveal_working_and_leaves_nothing_on_the_old_kek(
    kv: Kv, kv_spawn: Any
) -> None:
    """Reveals run in a loop while the operator rotates over the bus; none fails and all records move."""
    db, ids, before = await seed(kv, kv_spawn, 24)
    kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2"))
    errors: list[BaseException] = []
    done = asyncio.Event()
    reveals = 0

    async def traffic() -> None:
        nonlocal reveals
        while not done.is_set():
            org_id, integration_id = secrets.choice(ids)
            try:
                await kv.reveal(org_id, integration_id)
                reveals += 1
            except KeyrelayError as exc:
                errors.append(exc)
                await asyncio.sleep(0.05)

    workers = [asyncio.create_task(traffic()) for _ in range(4)]
    await asyncio.sleep(0.2)
    result = await kv.bus.request(subjects.KEYVAULT_ROTATE, kvm.RotateKeks(batch=5), kvm.Rotated, timeout_s=60)
    await asyncio.sleep(0.2)
    done.set()
    await asyncio.gather(*workers)
    assert errors == []
    assert reveals > len(ids)
    assert (result.rewrapped, result.remaining_on_old, result.failed) == (24, 0, [])
    after = {d["_id"]: d["envelope"] async for d in kv.collection.find({})}
    assert {e["kek_id"] for e in after.values()} == {"k2"}
    for integration_id, env in after.items():  # the secret itself was never re-encrypted
        assert (env["nonce"], env["ciphertext"]) == (
            before[integration_id]["nonce"],
            before[integration_id]["ciphertext"],
        )
        assert env["wrapped_key"] != before[integration_id]["wrapped_key"]
    rewraps = await kv.audit_events(ids[0][1], expect=2)
    assert [e.action for e in rewraps if e.action == "credential.rewrap"] == ["credential.rewrap"]


async def test_after_rotation_the_old_kek_can_be_retired_then_removed(kv: Kv, kv_spawn: Any) -> None:
    """Once every record is on k2, keyvault runs with k1 retired, and with k1 gone, and still reveals."""
    db, ids, _ = await seed(kv, kv_spawn, 3)
    rotator = kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2"))
    await kv.bus.request(subjects.KEYVAULT_ROTATE, kvm.RotateKeks(), kvm.Rotated, timeout_s=30)
    rotator.stop()
    retired = kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2", retired=["k1"]))
    await reveal_all(kv, ids)
    retired.stop()
    kv_spawn(db=db, **kek_env({"k2": K2}, "k2"))
    await reveal_all(kv, ids)


async def test_a_record_left_on_a_retired_kek_fails_with_retired_kek(kv: Kv, kv_spawn: Any) -> None:
    """Retiring a KEK before rotating is caught: reveals of its records fail with `RetiredKek`."""
    db, ids, _ = await seed(kv, kv_spawn, 1)
    kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2", retired=["k1"]))
    with pytest.raises(KeyrelayError) as info:
        await kv.reveal(*ids[0])
    assert "RetiredKek" in info.value.message


class CrashingRepository(CredentialRepository):
    """Dies after `allowed` re-wraps, like a process killed mid-rotation."""

    def __init__(self, *args: Any, allowed: int) -> None:
        super().__init__(*args)
        self.allowed = allowed

    async def swap(self, old: CredentialRecord, new: CredentialRecord) -> bool:
        if self.allowed == 0:
            raise RuntimeError("crash")
        self.allowed -= 1
        return await super().swap(old, new)


async def test_an_interrupted_rotation_resumes_and_reveals_work_in_between(kv: Kv, kv_spawn: Any) -> None:
    """A crash part-way leaves records on both KEKs, all readable; running again finishes the job."""
    db, ids, _ = await seed(kv, kv_spawn, 10)
    sealer = Sealer({"k1": K1, "k2": K2}, "k2")
    with pytest.raises(RuntimeError):
        await rotate(CrashingRepository(kv.mongo, db, allowed=4), sealer, floors(kv), batch=3)
    kinds = [d["envelope"]["kek_id"] async for d in kv.collection.find({})]
    assert sorted(kinds) == ["k1"] * 6 + ["k2"] * 4
    kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2"))
    await reveal_all(kv, ids)
    result = await rotate(CredentialRepository(kv.mongo, db), sealer, floors(kv), batch=3)
    assert (result.rewrapped, result.remaining_on_old) == (6, 0)
    again = await rotate(CredentialRepository(kv.mongo, db), sealer, floors(kv))
    assert (again.rewrapped, again.remaining_on_old) == (0, 0)
    await reveal_all(kv, ids)


async def test_a_record_that_cannot_be_rewrapped_is_reported_not_retried_forever(kv: Kv, kv_spawn: Any) -> None:
    """A record on a KEK that is no longer loaded is listed as failed; the others still move."""
    db, ids, _ = await seed(kv, kv_spawn, 3)
    await kv.collection.update_one({"_id": ids[0][1]}, {"$set": {"envelope.kek_id": "k0"}})
    result = await rotate(CredentialRepository(kv.mongo, db), Sealer({"k1": K1, "k2": K2}, "k2"), floors(kv))
    assert (result.rewrapped, result.remaining_on_old, result.failed) == (2, 1, [ids[0][1]])


DAMAGES: list[dict[str, Any]] = [
    {"$unset": {"org_id": ""}},
    {"$set": {"envelope": "not an envelope"}},
    {"$set": {"version": "seven"}},
    {"$set": {"project_scope": 42}},
]


async def test_malformed_records_are_reported_by_id_and_the_rest_still_rotate(kv: Kv, kv_spawn: Any) -> None:
    """Records that no longer parse (a field missing, of the wrong type) do not abort `kek rotate`: each is
    named, every other record moves and still reveals."""
    db, ids, _ = await seed(kv, kv_spawn, 7)
    broken = [ids[i][1] for i in (1, 2, 4, 6)]
    for integration_id, damage in zip(broken, DAMAGES, strict=True):
        await kv.collection.update_one({"_id": integration_id}, damage)
    kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2"))
    result = await kv.bus.request(subjects.KEYVAULT_ROTATE, kvm.RotateKeks(batch=2), kvm.Rotated, timeout_s=60)
    assert (result.rewrapped, result.remaining_on_old) == (3, 4)
    assert sorted(result.failed) == sorted(broken)
    await reveal_all(kv, [pair for pair in ids if pair[1] not in broken])


async def test_a_rolled_back_record_is_reported_audited_and_not_rotated(kv: Kv, kv_spawn: Any) -> None:
    """An old version put back in the database is not laundered onto the new KEK: rotation names it and moves on."""
    db, ids, _ = await seed(kv, kv_spawn, 3)
    org_id, target = ids[0]
    writer = kv_spawn(db=db, **kek_env({"k1": K1}, "k1"))
    old = await kv.collection.find_one({"_id": target})
    await kv.put(org_id, target, {"api_key": "sk-newer-0123456789abcdef"}, operation="update")
    writer.stop()
    await kv.collection.replace_one({"_id": target}, old)  # the database writer's rollback
    kv_spawn(db=db, **kek_env({"k1": K1, "k2": K2}, "k2"))
    result = await kv.bus.request(subjects.KEYVAULT_ROTATE, kvm.RotateKeks(), kvm.Rotated, timeout_s=60)
    assert (result.rewrapped, result.remaining_on_old, result.failed) == (2, 1, [target])
    failed = [e for e in await kv.audit_events(target, expect=3) if e.outcome == "failed"]
    assert failed[-1].action == "credential.rewrap"
    assert failed[-1].detail["error"] == "RolledBack"


async def test_the_cli_generates_usable_keks_and_rotates_over_the_bus(
    kv: Kv, kv_spawn: Any, kv_servers: KvServers
) -> None:
    """`keyrelay kek generate` prints a KEK keyvault accepts; `keyrelay kek rotate` finishes a rotation."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEYRELAY_")},
        "KEYRELAY_ENV_FILE": os.devnull,
        "KEYRELAY_NATS_URL": kv_servers.nats_url,
    }
    cli = [sys.executable, "-m", "shared.cli", "kek"]
    generated = subprocess.run(
        [*cli, "generate"], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT, timeout=60
    )
    new = json.loads(generated.stdout)
    check_random("generated", decode_key("generated", new["kek"]))
    db, _, _ = await seed(kv, kv_spawn, 2)
    kv_spawn(db=db, **kek_env({"k1": K1, new["kek_id"]: decode_key("new", new["kek"])}, new["kek_id"]))
    rotated = subprocess.run(
        [*cli, "rotate"], env=env, capture_output=True, text=True, check=False, cwd=REPO_ROOT, timeout=60
    )
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout) == {"rewrapped": 2, "remaining_on_old": 0, "failed": []}
    assert new["kek"] not in rotated.stdout + rotated.stderr
