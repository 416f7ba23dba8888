"""A key bound to more than one host: the integration's base URL plus the custom models' own hosts
the owner saved (`SetModelHosts`, owner assertion for exactly that set). Keyvault reveals the key
for a bound host only; the hosts are part of the envelope's binding, so a database writer adding a
host does not get the key sent there either."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.vault.assertions import sign_assertion, write_digest
from tests.integration.keyvault.conftest import OPENAI_BASE, Kv

MODEL_HOST = "https://models.example.com/anthropic"


async def bind(kv: Kv, org_id: str, integration_id: str, hosts: list[str], *, role: str = "owner") -> None:
    assertion = sign_assertion(
        kv.catalog_key,
        member_id="mem_owner",
        org_id=org_id,
        org_role=role,
        operation="hosts",
        integration_id=integration_id,
        digest=write_digest("hosts", base_urls=hosts),
    )
    await kv.admin.set_model_hosts(assertion=assertion, org_id=org_id, integration_id=integration_id, base_urls=hosts)


async def reveal_for(kv: Kv, org_id: str, integration_id: str, base_url: str) -> str:
    revealed = await kv.new_gateway(ttl_s=0.0).reveal(
        org_id=org_id,
        project_id="prj_1",
        integration_id=integration_id,
        project_proof=kv.project_proof(org_id, "prj_1"),
        base_url=base_url,
    )
    return revealed.base_url


async def refused(kv: Kv, org_id: str, integration_id: str, base_url: str) -> KeyrelayError:
    with pytest.raises(KeyrelayError) as caught:
        await reveal_for(kv, org_id, integration_id, base_url)
    return caught.value


async def test_the_key_is_revealed_for_a_bound_model_host_and_refused_for_any_other(kv_live: Kv) -> None:
    org_id, integration_id = await kv_live.create()
    assert (await refused(kv_live, org_id, integration_id, MODEL_HOST)).code == "forbidden"
    await bind(kv_live, org_id, integration_id, [MODEL_HOST + "/"])
    assert await reveal_for(kv_live, org_id, integration_id, MODEL_HOST) == MODEL_HOST
    assert await reveal_for(kv_live, org_id, integration_id, "") == OPENAI_BASE
    for other in ("https://attacker.example/v1", MODEL_HOST + "/evil", "https://models.example.com"):
        error = await refused(kv_live, org_id, integration_id, other)
        assert (error.code, "host_not_bound" in error.message) == ("forbidden", True)
    events = await kv_live.audit_events(integration_id, expect=6)
    assert any(e.action == "credential.hosts" and e.detail["model_hosts"] == "1" for e in events)
    assert any(e.detail.get("reason") == "host_not_bound" for e in events)
    await bind(kv_live, org_id, integration_id, [])
    assert (await refused(kv_live, org_id, integration_id, MODEL_HOST)).code == "forbidden"


async def test_a_credential_update_keeps_the_bound_model_hosts(kv_live: Kv) -> None:
    org_id, integration_id = await kv_live.create()
    await bind(kv_live, org_id, integration_id, [MODEL_HOST])
    await kv_live.put(org_id, integration_id, {"api_key": "sk-rotated-0123456789abcdef"}, operation="update")
    assert await reveal_for(kv_live, org_id, integration_id, MODEL_HOST) == MODEL_HOST


async def test_only_an_owners_assertion_for_exactly_these_hosts_binds_them(kv_live: Kv) -> None:
    org_id, integration_id = await kv_live.create()
    with pytest.raises(KeyrelayError) as member:
        await bind(kv_live, org_id, integration_id, [MODEL_HOST], role="member")
    assert member.value.code == "owner_required"
    other_set = sign_assertion(
        kv_live.catalog_key,
        member_id="mem_owner",
        org_id=org_id,
        org_role="owner",
        operation="hosts",
        integration_id=integration_id,
        digest=write_digest("hosts", base_urls=[MODEL_HOST]),
    )
    with pytest.raises(KeyrelayError) as swapped:
        await kv_live.admin.set_model_hosts(
            assertion=other_set, org_id=org_id, integration_id=integration_id, base_urls=["https://attacker.example"]
        )
    assert swapped.value.code == "owner_required"
    with pytest.raises(KeyrelayError) as bad:
        await bind(kv_live, org_id, integration_id, ["ftp://example.com/x"])
    assert (bad.value.code, bad.value.param) == ("invalid_request", "base_url")
    assert (await refused(kv_live, org_id, integration_id, MODEL_HOST)).code == "forbidden"


async def test_a_host_added_behind_keyvaults_back_does_not_open(kv_live: Kv) -> None:
    """A database writer adds its own host to the record: the envelope no longer authenticates."""
    org_id, integration_id = await kv_live.create()
    await bind(kv_live, org_id, integration_id, [MODEL_HOST])
    await kv_live.collection.update_one(
        {"_id": integration_id}, {"$push": {"model_base_urls": "https://attacker.example/v1"}}
    )
    error = await refused(kv_live, org_id, integration_id, "https://attacker.example/v1")
    assert (error.code, "CiphertextMismatch" in error.message) == ("internal_error", True)
