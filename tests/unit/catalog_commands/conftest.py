"""Catalog's commands against an in-memory store, keyvault and event sinks (see `memory.py`):
real provider registry, model catalog, address policy, policy rules and owner assertions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from nacl.signing import SigningKey

from catalog.commands import HANDLERS
from catalog.context import Ctx
from catalog.providers import load_model_catalog, load_provider_registry
from catalog.results import Created, Done, Ok, Result
from catalog.service import Catalog
from catalog.settings import CatalogSettings
from shared.messages import catalog as m
from shared.netpolicy import AddressPolicy
from shared.tokens import api_key_prefix, hash_token, new_api_key
from tests.unit.catalog_commands.memory import MemoryStore, MemoryVault, RecordingEvents

UPSTREAM = "http://127.0.0.1:9"


def token_hash() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def create_key(project_id: str, name: str = "key", **limits: Any) -> m.CreateApiKey:
    """What the gateway sends for a key it made: the hash and the public prefix, never the key."""
    raw = new_api_key()
    prefix = api_key_prefix(raw)
    assert prefix is not None
    return m.CreateApiKey(project_id=project_id, name=name, key_hash=hash_token(raw), key_prefix=prefix, **limits)


@dataclass
class World:
    """One organisation bootstrapped through catalog's own use case, and the parts around it."""

    ctx: Ctx
    store: MemoryStore
    events: RecordingEvents
    vault: MemoryVault
    owner: m.MemberPrincipal
    project_id: str

    async def run(self, who: m.MemberPrincipal, command: Any) -> Result:
        return await HANDLERS[type(command)](self.ctx, who, command)

    async def ok(self, who: m.MemberPrincipal, command: Any) -> Any:
        result = await self.run(who, command)
        assert isinstance(result, Ok), result
        return result.body

    async def created(self, who: m.MemberPrincipal, command: Any) -> Any:
        result = await self.run(who, command)
        assert isinstance(result, Created), result
        return result.body

    async def done(self, who: m.MemberPrincipal, command: Any) -> None:
        assert isinstance(await self.run(who, command), Done)

    async def project(self, name: str) -> str:
        body = await self.created(self.owner, m.CreateProject(name=name))
        return str(body["id"])

    async def member(
        self, email: str, role: str = "developer", project_id: str | None = None, org_role: str = "member"
    ) -> m.MemberPrincipal:
        projects = {project_id or self.project_id: role} if org_role == "member" else {}
        body = await self.created(
            self.owner, m.CreateMember(email=email, org_role=org_role, projects=projects, token_hash=token_hash())
        )
        return m.MemberPrincipal(
            member_id=body["id"], org_id=self.owner.org_id, email=email, org_role=org_role, projects=projects
        )

    async def integration(self, slug: str, **extra: Any) -> dict[str, Any]:
        command = m.CreateIntegration(
            provider=extra.pop("provider", "openai"),
            name=extra.pop("name", slug),
            slug=slug,
            credentials=m.CredentialInput(sealed=b"sealed-" + slug.encode(), secret_fields=["api_key"]),
            **extra,
        )
        body: dict[str, Any] = await self.created(self.owner, command)
        return body


@pytest.fixture
async def world() -> World:
    signing_key = SigningKey.generate()
    store, events, vault = MemoryStore(), RecordingEvents(), MemoryVault(signing_key.verify_key)
    ctx = Ctx(
        repo=store,
        events=events,
        vault=vault,
        providers=load_provider_registry(),
        models=load_model_catalog(),
        addresses=AddressPolicy.from_settings("127.0.0.1", allow_http=True),
        settings=CatalogSettings(provider_base_urls={"openai": UPSTREAM, "anthropic": UPSTREAM}),
        signing_key=signing_key,
    )
    catalog = Catalog(ctx)
    owner_hash = token_hash()
    org = await catalog.bootstrap(
        m.BootstrapRequest(org_name="Acme", owner_email="owner@acme.test", owner_token_hash=owner_hash)
    )
    owner = await catalog.member(owner_hash)
    events.audits.clear()
    return World(ctx=ctx, store=store, events=events, vault=vault, owner=owner, project_id=org.project_id)
