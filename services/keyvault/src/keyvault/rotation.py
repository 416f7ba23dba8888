"""KEK rotation: re-wrap every record's data key under the primary KEK.

Idempotent and resumable: each record moves with a compare-and-set on its version and envelope, to
the next version (the floor follows), so a crash part-way leaves every record on either the old or
the new KEK, both readable, and running it again finishes the job; a record rewritten by a put
meanwhile is already on the primary. The secret's own ciphertext is never re-encrypted.

Each record is handled on its own: one that does not parse, does not authenticate, names an unknown
KEK or is older than its floor (put back by a database writer) is reported by id, audited where its
org is known, and skipped; the rest are still rotated.
"""

from __future__ import annotations

from typing import Any

from keyvault.audit import Auditor, credential_event
from keyvault.crypto import Sealer, VaultCryptoError
from keyvault.floors import VersionFloors
from keyvault.metrics import REWRAPS
from keyvault.repository import CredentialRecord, CredentialRepository, Unreadable
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.activity import Outcome
from shared.messages.keyvault import Rotated

log = get_logger("keyrelay.keyvault.rotation")
_MAX_CONFLICTS = 5


class _Skip(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class _Rotation:
    def __init__(
        self, repo: CredentialRepository, sealer: Sealer, floors: VersionFloors, auditor: Auditor | None, actor: str
    ) -> None:
        self.repo, self.sealer, self.floors, self.auditor, self.actor = repo, sealer, floors, auditor, actor
        self.moved = 0
        self.failed: list[str] = []
        self.skip_ids: list[Any] = []
        self.conflicts: dict[str, int] = {}

    def _fail(self, raw_id: Any, integration_id: str, error: str, record: CredentialRecord | None) -> None:
        REWRAPS.labels(outcome="failed").inc()
        log.error("keyvault.rewrap_failed", integration_id=integration_id, error=error)
        self.failed.append(integration_id)
        self.skip_ids.append(raw_id)
        if record is not None:
            self._audit(record, "failed", {"error": error, "version": str(record.version)})

    def _audit(self, record: CredentialRecord, outcome: Outcome, detail: dict[str, str]) -> None:
        if self.auditor is not None:
            self.auditor.record(
                credential_event(
                    org_id=record.org_id,
                    actor_id=self.actor,
                    actor_role="operator",
                    action="credential.rewrap",
                    target_id=record.integration_id,
                    outcome=outcome,
                    detail=detail,
                )
            )

    async def one(self, record: CredentialRecord) -> bool:
        """Move one record; False if it changed meanwhile (look again). Raises `_Skip` to give up on it."""
        try:
            floor = await self.floors.get(record.integration_id)
        except KeyrelayError as exc:
            raise _Skip(exc.code) from None
        if record.version < floor:
            current = await self.repo.get(record.integration_id)
            if current is None or current.version != record.version:
                return False  # a write moved (or a delete removed) it after this batch was read
            raise _Skip("RolledBack")
        try:
            new = record.rebound(self.sealer, version=max(record.version, floor) + 1)
        except VaultCryptoError as exc:
            raise _Skip(type(exc).__name__) from None
        if not await self.repo.swap(record, new):
            return False
        await self.floors.follow(record.integration_id, new.version)
        self.moved += 1
        REWRAPS.labels(outcome="ok").inc()
        log.info(
            "keyvault.rewrapped",
            integration_id=record.integration_id,
            kek_id=record.envelope.kek_id,
            primary=new.envelope.kek_id,
            version=new.version,
        )
        self._audit(record, "ok", {"from_kek": record.envelope.kek_id, "to_kek": new.envelope.kek_id})
        return True

    def _changed(self, record: CredentialRecord) -> None:
        """Changed under us: look again, but not forever (a record that keeps changing is reported)."""
        seen = self.conflicts[record.integration_id] = self.conflicts.get(record.integration_id, 0) + 1
        if seen >= _MAX_CONFLICTS:
            self._fail(record.integration_id, record.integration_id, "KeepsChanging", record)

    async def run(self, batch: int) -> None:
        while entries := await self.repo.not_on(self.sealer.primary, batch, skip_ids=self.skip_ids):
            progressed = False
            for entry in entries:
                if isinstance(entry, Unreadable):
                    self._fail(entry.raw_id, entry.integration_id, "MalformedRecord", None)
                    progressed = True
                    continue
                try:
                    if not await self.one(entry):
                        self._changed(entry)
                except _Skip as skip:
                    self._fail(entry.integration_id, entry.integration_id, skip.error, entry)
                except VaultCryptoError as exc:  # e.g. the record became unreadable while we looked
                    self._fail(entry.integration_id, entry.integration_id, type(exc).__name__, entry)
                progressed = True  # moved, skipped, or changed meanwhile (a put moved it): look again
            if not progressed:
                break


async def rotate(
    repo: CredentialRepository,
    sealer: Sealer,
    floors: VersionFloors,
    *,
    batch: int = 100,
    auditor: Auditor | None = None,
    actor_id: str = "operator",
) -> Rotated:
    job = _Rotation(repo, sealer, floors, auditor, actor_id)
    await job.run(max(1, min(batch, 1000)))
    remaining = await repo.count_not_on(sealer.primary)
    log.info("keyvault.rotation_finished", rewrapped=job.moved, remaining_on_old=remaining, failed=len(job.failed))
    return Rotated(rewrapped=job.moved, remaining_on_old=remaining, failed=job.failed)
