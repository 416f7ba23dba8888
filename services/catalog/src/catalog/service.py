"""Catalog use cases: bootstrap, authentication, routing snapshots, management dispatch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from catalog.commands import HANDLERS
from catalog.context import Ctx
from catalog.repository import now
from catalog.results import Ok, to_reply
from catalog.sessions import ConsoleAuth, principal_of
from catalog.snapshot import build_snapshot
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages import catalog as m
from shared.tokens import new_id, require_token_hash
from shared.vault.membership import sign_membership

log = get_logger("keyrelay.catalog")


class Catalog:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.console = ConsoleAuth(ctx)

    async def bootstrap(self, req: m.BootstrapRequest) -> m.BootstrapReply:
        name = req.org_name.strip()
        if not 1 <= len(name) <= 100:
            raise KeyrelayError("invalid_request", "org name must be 1-100 characters", param="org")
        if await self.ctx.repo.org_named(name) is not None:
            raise KeyrelayError("conflict", "an organization with this name exists", param="org")
        token_hash = require_token_hash(req.owner_token_hash, "owner_token_hash")
        org_id, project_id, member_id = new_id("org"), new_id("prj"), new_id("mem")
        created = now()
        await self.ctx.repo.create_org(
            {"_id": org_id, "name": name, "created_at": created},
            {"_id": project_id, "org_id": org_id, "name": "default", "content_logging": False, "created_at": created},
            {
                "_id": member_id,
                "org_id": org_id,
                "email": req.owner_email.strip().lower(),
                "org_role": "owner",
                "projects": {},
                "token_hash": token_hash,
                "created_at": created,
            },
        )
        self.ctx.events.audit(None, org_id, "org.bootstrap", "org", org_id)
        return m.BootstrapReply(org_id=org_id, project_id=project_id)

    async def member(self, token_hash: str) -> m.MemberPrincipal:
        # a member token, or a console session (same principal): both looked up at once, as every
        # console page's commands pay for this
        by_token, by_session = await asyncio.gather(
            self.ctx.repo.member_by_token_hash(token_hash), self.console.member_for_session(token_hash)
        )
        doc = by_token or by_session
        if doc is None:
            raise KeyrelayError("unauthorized", "invalid or missing member token")
        return principal_of(doc)

    async def api_key(self, key_hash: str) -> m.ApiKeyPrincipal:
        doc = await self.ctx.repo.api_key_by_hash(key_hash)
        if doc is None or doc.get("revoked_at") is not None:
            raise KeyrelayError("invalid_api_key", "invalid API key")
        expires = doc.get("expires_at")
        if expires is not None and expires.replace(tzinfo=expires.tzinfo or UTC) <= datetime.now(UTC):
            raise KeyrelayError("invalid_api_key", "API key expired")
        project = await self.ctx.repo.projects.get(doc["org_id"], _id=doc["project_id"])
        if project is None:
            raise KeyrelayError("invalid_api_key", "invalid API key")
        return m.ApiKeyPrincipal(
            api_key_id=doc["_id"],
            org_id=doc["org_id"],
            project_id=doc["project_id"],
            name=doc.get("name", ""),
            models=doc.get("models"),
            rpm=doc.get("rpm"),
            tpm=doc.get("tpm"),
            budget_usd=doc.get("budget_usd"),
            budget_period=doc.get("budget_period"),
            expires_at=expires,
            content_logging=bool(project.get("content_logging", False)),
            project_rpm=project.get("rpm"),
            project_tpm=project.get("tpm"),
            project_budget_usd=project.get("budget_usd"),
            project_budget_period=project.get("budget_period"),
            project_proof=sign_membership(self.ctx.signing_key, org_id=doc["org_id"], project_id=doc["project_id"]),
        )

    async def snapshot(self, req: m.SnapshotRequest) -> m.RoutingSnapshot:
        repo = self.ctx.repo
        integrations = await repo.routable_integrations(req.org_id, req.project_id)
        virtual = await repo.virtual_models_for(req.org_id, req.project_id)
        configs = await repo.configs_for(req.org_id, req.project_id)
        return build_snapshot(req.org_id, req.project_id, integrations, virtual, self.ctx.models, configs)

    async def report(self, req: m.IntegrationReport) -> m.Ack:
        changes: dict[str, Any] = {
            "last_used_at": req.at or now(),
            "last_error_class": None if req.ok else req.error_class,
        }
        if not req.ok and req.error_class == "auth":
            changes["status"] = "error"
        await self.ctx.repo.record_use(req.org_id, req.integration_id, changes, reactivate=req.ok)
        return m.Ack()

    async def manage(self, req: m.ManageRequest) -> m.ManageReply:
        if isinstance(req.command, m.ListProviders):
            await self.member(req.token_hash)
            return to_reply(Ok({"data": self.ctx.providers.public_list()}))
        principal = await self.member(req.token_hash)
        handler = HANDLERS.get(type(req.command))
        if handler is None:
            raise KeyrelayError("forbidden", "this operation is not available")
        try:
            result = await handler(self.ctx, principal, req.command)
        except KeyrelayError as exc:
            if exc.code in {"owner_required", "forbidden"}:
                self.ctx.events.audit(
                    principal,
                    principal.org_id,
                    f"{type(req.command).__name__}.denied",
                    "command",
                    type(req.command).__name__,
                    outcome="denied",
                )
            raise
        return to_reply(result)
