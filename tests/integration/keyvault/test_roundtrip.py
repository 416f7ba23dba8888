"""Put, describe, reveal, scope and delete against a real keyvault process, NATS and SecantusDB."""

from __future__ import annotations

import contextlib
import secrets

import msgspec
import pytest

from shared import subjects
from shared.errors import KeyrelayError
from shared.messages import keyvault as kv
from shared.messages.base import Ping, Pong
from shared.tokens import new_id
from tests.integration.keyvault.conftest import OPENAI_BASE, Kv
from tests.unit.keyvault.test_payloads import SERVICE_ACCOUNT


async def test_keyvault_answers_ping_with_its_primary_kek(kv_live: Kv) -> None:
    """Readiness checks get a Pong naming the primary KEK id (never its value)."""
    pong = await kv_live.bus.request(subjects.KEYVAULT_PING, Ping(), Pong)
    assert pong.service == "keyvault"
    assert pong.detail == f"primary_kek={kv_live.keys['KEYRELAY_KEYVAULT_PRIMARY_KEK']}"


async def test_a_stored_api_key_and_headers_come_back_to_the_gateway_with_the_bound_base_url(kv_live: Kv) -> None:
    """Round trip: sealed put, then a signed reveal yields the same secrets and the stored base URL."""
    key = "sk-ant-api03-" + secrets.token_hex(16)
    org_id, integration_id = await kv_live.create(
        {"api_key": key, "headers": {"X-Org-Auth": "hv-" + key[-6:]}},
        provider="anthropic",
        base_url="https://api.anthropic.com",
    )
    revealed = await kv_live.reveal(org_id, integration_id)
    assert revealed.base_url == "https://api.anthropic.com"
    assert revealed.credential.api_key is not None
    assert revealed.credential.api_key.reveal() == key
    assert {k: v.reveal() for k, v in revealed.credential.headers.items()} == {"X-Org-Auth": "hv-" + key[-6:]}


async def test_a_vertex_service_account_round_trips_as_json_text(kv_live: Kv) -> None:
    """The key file is validated on save and handed to the gateway as JSON text in a Secret."""
    org_id, integration_id = await kv_live.create(
        {"service_account_json": SERVICE_ACCOUNT},
        provider="vertex",
        base_url="https://us-central1-aiplatform.googleapis.com/v1",
    )
    revealed = await kv_live.reveal(org_id, integration_id)
    assert revealed.credential.service_account_json is not None
    assert msgspec.json.decode(revealed.credential.service_account_json.reveal()) == SERVICE_ACCOUNT


async def test_an_invalid_service_account_is_refused_on_save(kv_live: Kv) -> None:
    """Vertex needs a real key file."""
    with pytest.raises(KeyrelayError) as info:
        await kv_live.create({"service_account_json": {"type": "user"}}, provider="vertex")
    assert info.value.code == "invalid_credentials"


async def test_describe_returns_masks_fingerprints_and_header_names_only(kv_live: Kv) -> None:
    """The masked view has who and when, header names, never values."""
    key = "sk-proj-" + secrets.token_hex(16)
    org_id, integration_id = await kv_live.create({"api_key": key, "headers": {"x-tenant-secret": "hv-123456"}})
    views = await kv_live.admin.views(org_id=org_id, integration_ids=[integration_id, "int_missing"])
    view = views[integration_id]
    assert view.masked == f"sk-••••••{key[-3:]}"
    assert view.header_names == ["x-tenant-secret"]
    assert view.updated_by == "mem_owner"
    assert view.version == 1
    assert len(view.fingerprint) == 24
    assert key not in msgspec.json.encode(views).decode()
    assert "hv-123456" not in msgspec.json.encode(views).decode()
    described = await kv_live.admin.describe(org_id=org_id, integration_ids=[integration_id])
    assert set(described[integration_id]) == {"masked", "fingerprint", "updated_at", "updated_by"}
    other_org = await kv_live.admin.views(org_id=new_id("org"), integration_ids=[integration_id])
    assert other_org == {}


async def test_an_update_needs_an_update_assertion_and_bumps_the_version(kv_live: Kv) -> None:
    """A second put is an update; the new key is revealed from then on."""
    org_id, integration_id = await kv_live.create()
    with pytest.raises(KeyrelayError) as info:
        await kv_live.put(org_id, integration_id, {"api_key": "sk-second-key-123456"}, operation="create")
    assert info.value.code == "owner_required"
    view = await kv_live.put(org_id, integration_id, {"api_key": "sk-second-key-123456"}, operation="update")
    assert view.version == 2
    revealed = await kv_live.reveal(org_id, integration_id)
    assert revealed.credential.api_key is not None
    assert revealed.credential.api_key.reveal() == "sk-second-key-123456"
    assert [e.action for e in await kv_live.audit_events(integration_id, expect=2)][:2] == [
        "credential.create",
        "credential.update",
    ]


async def test_every_write_publishes_a_credential_changed_event_with_ids_only(kv_live: Kv) -> None:
    """Gateways evict their cache on `events.v1.credential.changed`, which carries org and integration ids."""
    sub = await kv_live.nc.subscribe(subjects.EVENT_CREDENTIAL_CHANGED)
    org_id, integration_id = await kv_live.create()
    await kv_live.admin.set_scope(
        assertion=kv_live.assertion(org_id, integration_id, "scope", project_scope=["prj_1"]),
        org_id=org_id,
        integration_id=integration_id,
        project_scope=["prj_1"],
    )
    await kv_live.admin.delete(
        assertion=kv_live.assertion(org_id, integration_id, "delete"), org_id=org_id, integration_id=integration_id
    )
    seen: list[bytes] = []
    with contextlib.suppress(TimeoutError):
        while True:
            seen.append((await sub.next_msg(timeout=0.5)).data)
    await sub.unsubscribe()
    events = [msgspec.json.decode(raw, type=kv.CredentialChanged) for raw in seen]
    mine = [e for e in events if e.integration_id == integration_id]
    assert len(mine) == 3
    assert all(e.org_id == org_id for e in mine)
    assert all(set(msgspec.json.decode(raw)) <= {"org_id", "integration_id"} for raw in seen)


async def test_a_project_outside_the_scope_is_refused_and_audited(kv_live: Kv) -> None:
    """Keyvault re-checks the scope itself: project B never gets project A's integration."""
    org_id, integration_id = await kv_live.create(scope=["prj_a"])
    assert (await kv_live.reveal(org_id, integration_id, "prj_a")).base_url == OPENAI_BASE
    with pytest.raises(KeyrelayError) as info:
        await kv_live.reveal(org_id, integration_id, "prj_b")
    assert info.value.code == "integration_not_found"
    events = await kv_live.audit_events(integration_id, expect=3)
    denied = [e for e in events if e.outcome == "denied"]
    assert denied[0].action == "credential.decrypt"
    assert denied[0].detail == {"reason": "project_out_of_scope", "project_id": "prj_b"}


async def test_a_scope_change_takes_effect_on_the_next_reveal(kv_live: Kv) -> None:
    """Catalog keeps keyvault's copy of the scope in sync; keyvault enforces the new one."""
    org_id, integration_id = await kv_live.create(scope="all")
    await kv_live.admin.set_scope(
        assertion=kv_live.assertion(org_id, integration_id, "scope", project_scope=["prj_only"]),
        org_id=org_id,
        integration_id=integration_id,
        project_scope=["prj_only"],
    )
    with pytest.raises(KeyrelayError):
        await kv_live.reveal(org_id, integration_id, "prj_1")
    await kv_live.reveal(org_id, integration_id, "prj_only")


async def test_another_orgs_integration_is_not_found(kv_live: Kv) -> None:
    """An integration id from another org is refused for reveals and writes alike."""
    org_id, integration_id = await kv_live.create()
    intruder = new_id("org")
    with pytest.raises(KeyrelayError) as info:
        await kv_live.reveal(intruder, integration_id)
    assert info.value.code == "integration_not_found"
    with pytest.raises(KeyrelayError) as info:
        await kv_live.put(intruder, integration_id, {"api_key": "sk-takeover-123456"}, operation="update")
    assert info.value.code in {"owner_required", "integration_not_found"}
    revealed = await kv_live.reveal(org_id, integration_id)
    assert revealed.credential.api_key is not None
    assert revealed.credential.api_key.reveal() != "sk-takeover-123456"


async def test_a_deleted_credential_cannot_be_revealed(kv_live: Kv) -> None:
    """Delete removes the record; the next reveal is not found."""
    org_id, integration_id = await kv_live.create()
    await kv_live.admin.delete(
        assertion=kv_live.assertion(org_id, integration_id, "delete"), org_id=org_id, integration_id=integration_id
    )
    assert await kv_live.collection.find_one({"_id": integration_id}) is None
    with pytest.raises(KeyrelayError) as info:
        await kv_live.reveal(org_id, integration_id)
    assert info.value.code == "integration_not_found"


async def test_a_put_not_sealed_to_keyvault_is_refused(kv_live: Kv) -> None:
    """Only SealedBox payloads for keyvault's public key are accepted."""
    org_id, integration_id = new_id("org"), new_id("int")
    plain = b'{"api_key": "sk-plain-text-123"}'
    blob = kv_live.assertion(
        org_id, integration_id, "create", provider="openai", base_url=OPENAI_BASE, project_scope="all", sealed=plain
    )
    with pytest.raises(KeyrelayError) as info:
        await kv_live.admin.put(
            kv.PutCredential(
                assertion=blob,
                org_id=org_id,
                integration_id=integration_id,
                provider="openai",
                base_url=OPENAI_BASE,
                project_scope="all",
                sealed=plain,
            )
        )
    assert info.value.code == "invalid_credentials"


@pytest.mark.parametrize("base_url", ["ftp://x.example", "https://user:pw@x.example/v1", "https://x.example/v1?k=1"])
async def test_a_base_url_with_credentials_query_or_odd_scheme_is_refused(kv_live: Kv, base_url: str) -> None:
    """The bound base URL is an http(s) origin and path, nothing that could carry a secret."""
    with pytest.raises(KeyrelayError) as info:
        await kv_live.create(base_url=base_url)
    assert info.value.code == "invalid_request"
