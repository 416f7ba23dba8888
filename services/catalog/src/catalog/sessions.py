"""Console sign-in: first password with the one-time member token, email sign-in, sessions.

* The gateway runs scrypt; catalog stores only SHA-256(scrypt output) ("verifier"), so neither the
  password nor a replayable proof sits in MongoDB.
* The member token sets the first password once; afterwards it still authenticates the management
  API, but cannot set a password again.
* Failed sign-ins are counted per account here (shared by every gateway replica): after
  `MAX_FAILURES` within the window the account is locked for `LOCK_S`.
* A session is stored by the hash of its token with the member's role stamp at sign-in; it
  authenticates exactly as the member token does until it expires, and it is revoked (deleted) the
  moment the member is removed or their org or project roles change.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from catalog.context import Ctx
from catalog.repository import now
from shared.errors import KeyrelayError
from shared.messages import catalog as m

SESSION_TTL: Final = timedelta(hours=12)
MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = timedelta(minutes=15)
LOCK_S: Final = 60
_MIN_N: Final = 2**14
_BAD_SIGN_IN: Final = "wrong email or password"


def _verifier(proof: str) -> str:
    return hashlib.sha256(proof.encode()).hexdigest()


def role_stamp(member: dict[str, Any]) -> str:
    """What a session was granted under: any change of role or project roles revokes it."""
    projects = sorted((member.get("projects") or {}).items())
    return hashlib.sha256(repr((member["org_role"], projects)).encode()).hexdigest()


def principal_of(doc: dict[str, Any]) -> m.MemberPrincipal:
    return m.MemberPrincipal(
        member_id=doc["_id"],
        org_id=doc["org_id"],
        email=doc["email"],
        org_role=doc["org_role"],
        projects=doc.get("projects", {}),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ConsoleAuth:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self._decoy_key = bytes(ctx.signing_key)

    async def params(self, req: m.GetPasswordParams) -> m.PasswordParams:
        doc = await self.ctx.repo.password_by_email(req.email.strip().lower())
        if doc is None:
            decoy = hmac.new(self._decoy_key, b"decoy-salt:" + req.email.strip().lower().encode(), "sha256")
            return m.PasswordParams(salt=decoy.hexdigest()[:32])
        return m.PasswordParams(salt=doc["salt"], n=doc["n"], r=doc["r"], p=doc["p"])

    async def set_password(self, req: m.SetPassword) -> m.Ack:
        if req.n < _MIN_N or not 16 <= len(req.salt) <= 128 or not 32 <= len(req.proof) <= 256:
            raise KeyrelayError("invalid_request", "password parameters are too weak")
        member = await self.ctx.repo.member_by_token_hash(req.token_hash)
        if member is None:
            raise KeyrelayError("unauthorized", "invalid or missing member token")
        doc = {
            "_id": member["_id"],
            "org_id": member["org_id"],
            "email": member["email"],
            "salt": req.salt,
            "n": req.n,
            "r": req.r,
            "p": req.p,
            "verifier": _verifier(req.proof),
            "failures": 0,
            "created_at": now(),
        }
        repo = self.ctx.repo
        stale = await repo.password_by_email(member["email"])
        if stale is not None and await repo.member_by_id(stale["_id"]) is None:
            await repo.delete_password(stale["_id"])  # its member was removed
        if not await repo.insert_password(doc):
            raise KeyrelayError(
                "conflict", "a password was already set with this token, or this email signs in elsewhere"
            )
        self.ctx.events.audit(principal_of(member), member["org_id"], "password.set", "member", member["_id"])
        return m.Ack()

    async def start(self, req: m.StartSession) -> m.SessionStarted:
        repo = self.ctx.repo
        doc = await repo.password_by_email(req.email.strip().lower())
        if doc is None:
            raise KeyrelayError("unauthorized", _BAD_SIGN_IN)
        current = now()
        locked = doc.get("locked_until")
        if locked is not None and _aware(locked) > current:
            raise KeyrelayError("rate_limited", "too many failed sign-ins for this account; try again in a minute")
        if not hmac.compare_digest(_verifier(req.proof), doc["verifier"]):
            await self._failed(doc, current)
            raise KeyrelayError("unauthorized", _BAD_SIGN_IN)
        member = await repo.members.get(doc["org_id"], _id=doc["_id"])
        if member is None:
            raise KeyrelayError("unauthorized", _BAD_SIGN_IN)
        await repo.update_password(doc["_id"], {"failures": 0, "locked_until": None})
        expires = current + SESSION_TTL
        await repo.insert_session(
            {
                "_id": req.session_hash,
                "member_id": member["_id"],
                "org_id": member["org_id"],
                "stamp": role_stamp(member),
                "created_at": current,
                "expires_at": expires,
            }
        )
        principal = principal_of(member)
        self.ctx.events.audit(principal, member["org_id"], "session.start", "member", member["_id"])
        return m.SessionStarted(principal=principal, expires_at=expires)

    async def _failed(self, doc: dict[str, Any], current: datetime) -> None:
        since = doc.get("failures_since")
        failures = int(doc.get("failures", 0))
        if since is None or _aware(since) < current - FAILURE_WINDOW:
            failures, since = 0, current
        failures += 1
        changes: dict[str, Any] = {"failures": failures, "failures_since": since}
        if failures >= MAX_FAILURES:
            changes |= {"failures": 0, "failures_since": None, "locked_until": current + timedelta(seconds=LOCK_S)}
        await self.ctx.repo.update_password(doc["_id"], changes)
        self.ctx.events.audit(
            None,
            doc["org_id"],
            "session.denied",
            "member",
            doc["_id"],
            outcome="denied",
            detail={"reason": "wrong password"},
        )

    async def end(self, req: m.EndSession) -> m.Ack:
        await self.ctx.repo.delete_session(req.session_hash)
        return m.Ack()

    async def member_for_session(self, session_hash: str) -> dict[str, Any] | None:
        """The member a live session belongs to; a stale session (expired, removed member, changed
        roles) is deleted and answers None."""
        repo = self.ctx.repo
        session = await repo.session(session_hash)
        if session is None:
            return None
        member = await repo.members.get(session["org_id"], _id=session["member_id"])
        if (
            member is None
            or _aware(session["expires_at"]) <= now()
            or not hmac.compare_digest(role_stamp(member), session["stamp"])
        ):
            await repo.delete_session(session_hash)
            return None
        return member
