"""Owner-only writes, enforced inside keyvault: anything but a fresh owner assertion is refused and audited."""

from __future__ import annotations

import time
from typing import Any

import pytest
from nacl.signing import SigningKey

from shared.errors import KeyrelayError
from shared.tokens import new_id
from tests.integration.keyvault.conftest import Kv


async def snapshot(kv: Kv, integration_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await kv.collection.find_one({"_id": integration_id})
    return doc


async def write(kv: Kv, operation: str, org_id: str, integration_id: str, assertion: bytes) -> None:
    if operation == "delete":
        await kv.admin.delete(assertion=assertion, org_id=org_id, integration_id=integration_id)
    elif operation == "scope":
        await kv.admin.set_scope(
            assertion=assertion, org_id=org_id, integration_id=integration_id, project_scope=["prj_x"]
        )
    else:
        await kv.put(org_id, integration_id, {"api_key": "sk-attempt-0123456789"}, assertion=assertion)


async def assert_refused_unchanged_and_audited(
    kv: Kv, operation: str, org_id: str, integration_id: str, assertion: bytes, reason: str
) -> None:
    before = await snapshot(kv, integration_id)
    with pytest.raises(KeyrelayError) as info:
        await write(kv, operation, org_id, integration_id, assertion)
    assert info.value.code == "owner_required"
    assert info.value.status == 403
    assert await snapshot(kv, integration_id) == before
    events = await kv.audit_events(integration_id, expect=2 if before else 1)
    denied = [e for e in events if e.outcome == "denied"]
    assert denied, events
    assert denied[-1].action == f"credential.{operation}"
    assert reason in denied[-1].detail["reason"]


@pytest.mark.parametrize("role", ["developer", "admin"])
@pytest.mark.parametrize("operation", ["update", "delete", "scope"])
async def test_a_non_owner_cannot_change_a_credential(kv_live: Kv, role: str, operation: str) -> None:
    """Developer and admin assertions are refused (403 owner_required), the record is unchanged, the attempt audited."""
    org_id, integration_id = await kv_live.create()
    blob = kv_live.assertion(org_id, integration_id, operation, role=role, member_id="mem_" + role)
    await assert_refused_unchanged_and_audited(kv_live, operation, org_id, integration_id, blob, "owners")
    denied = [e for e in await kv_live.audit_events(integration_id, expect=2) if e.outcome == "denied"]
    assert (denied[-1].actor_id, denied[-1].actor_role) == ("mem_" + role, role)


@pytest.mark.parametrize("role", ["developer", "admin"])
async def test_a_non_owner_cannot_create_a_credential(kv_live: Kv, role: str) -> None:
    """A create by a non-owner stores nothing."""
    org_id, integration_id = new_id("org"), new_id("int")
    blob = kv_live.assertion(org_id, integration_id, "create", role=role)
    await assert_refused_unchanged_and_audited(kv_live, "create", org_id, integration_id, blob, "owners")


async def test_a_forged_assertion_is_refused(kv_live: Kv) -> None:
    """An owner assertion signed by anyone but catalog is worthless."""
    org_id, integration_id = await kv_live.create()
    blob = kv_live.assertion(org_id, integration_id, "delete", key=SigningKey.generate())
    await assert_refused_unchanged_and_audited(kv_live, "delete", org_id, integration_id, blob, "not signed")


async def test_a_missing_assertion_is_refused(kv_live: Kv) -> None:
    """No assertion at all is the same as a forged one."""
    org_id, integration_id = await kv_live.create()
    await assert_refused_unchanged_and_audited(kv_live, "update", org_id, integration_id, b"", "not signed")


async def test_an_expired_assertion_is_refused(kv_live: Kv) -> None:
    """An assertion older than its (at most 60 s) lifetime is refused."""
    org_id, integration_id = await kv_live.create()
    blob = kv_live.assertion(org_id, integration_id, "delete", now=time.time() - 61)
    await assert_refused_unchanged_and_audited(kv_live, "delete", org_id, integration_id, blob, "expired")


async def test_a_replayed_assertion_is_refused(kv_live: Kv) -> None:
    """An owner assertion works once."""
    org_id, integration_id = await kv_live.create()
    blob = kv_live.assertion(org_id, integration_id, "scope", project_scope=["prj_x"])
    await write(kv_live, "scope", org_id, integration_id, blob)
    await assert_refused_unchanged_and_audited(kv_live, "scope", org_id, integration_id, blob, "already used")


@pytest.mark.parametrize("mismatch", ["org", "integration", "operation"])
async def test_an_assertion_for_another_org_integration_or_operation_is_refused(kv_live: Kv, mismatch: str) -> None:
    """An owner's assertion covers exactly one write."""
    org_id, integration_id = await kv_live.create()
    blob = kv_live.assertion(
        new_id("org") if mismatch == "org" else org_id,
        new_id("int") if mismatch == "integration" else integration_id,
        "scope" if mismatch == "operation" else "delete",
    )
    await assert_refused_unchanged_and_audited(kv_live, "delete", org_id, integration_id, blob, "another write")


async def test_an_owner_write_is_audited_with_the_member_and_fingerprint(kv_live: Kv) -> None:
    """Create, update, scope and delete by an owner each leave an `ok` audit event naming the member."""
    org_id, integration_id = await kv_live.create()
    await kv_live.put(org_id, integration_id, {"api_key": "sk-rotated-0123456789"}, operation="update")
    scope_blob = kv_live.assertion(org_id, integration_id, "scope", project_scope=["prj_x"])
    await write(kv_live, "scope", org_id, integration_id, scope_blob)
    await write(kv_live, "delete", org_id, integration_id, kv_live.assertion(org_id, integration_id, "delete"))
    events = await kv_live.audit_events(integration_id, expect=4)
    assert [e.action for e in events] == [
        "credential.create",
        "credential.update",
        "credential.scope",
        "credential.delete",
    ]
    assert {(e.actor_id, e.actor_role, e.outcome, e.org_id, e.service) for e in events} == {
        ("mem_owner", "owner", "ok", org_id, "keyvault")
    }
    assert events[1].detail["version"] == "2"
    assert len(events[1].detail["fingerprint"]) == 24
