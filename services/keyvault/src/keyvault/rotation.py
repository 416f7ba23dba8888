"""KEK rotation: re-wrap every record's data key under the primary KEK.

Idempotent and resumable: each record moves with a compare-and-set on (kek_id, version), so a crash
part-way leaves every record on either the old or the new KEK, both readable, and running it again
finishes the job; a record rewritten by a put meanwhile is already on the primary. The secret's own
ciphertext is never re-encrypted. A record that cannot be re-wrapped (unknown KEK, tampered) is
reported by id and skipped, so one bad record cannot stall the rest.
"""

from __future__ import annotations

from keyvault.audit import Auditor
from keyvault.crypto import Sealer, VaultCryptoError
from keyvault.metrics import REWRAPS
from keyvault.repository import CredentialRepository
from shared.logging import get_logger
from shared.messages.keyvault import Rotated

log = get_logger("keyrelay.keyvault.rotation")


async def rotate(
    repo: CredentialRepository,
    sealer: Sealer,
    *,
    batch: int = 100,
    auditor: Auditor | None = None,
    actor_id: str = "operator",
) -> Rotated:
    moved = 0
    failed: list[str] = []
    batch = max(1, min(batch, 1000))
    while records := await repo.not_on(sealer.primary, batch, skip_ids=failed):
        progressed = False
        for record in records:
            old_kek = record.envelope.kek_id
            try:
                new = sealer.rewrap(record.envelope, record.identity)
            except VaultCryptoError as exc:
                REWRAPS.labels(outcome="failed").inc()
                log.error(  # noqa: TRY400 - the error's name is enough, no traceback
                    "keyvault.rewrap_failed",
                    integration_id=record.integration_id,
                    kek_id=old_kek,
                    error=type(exc).__name__,
                )
                failed.append(record.integration_id)
                continue
            if not await repo.compare_and_rewrap(record, new):
                progressed = True  # changed meanwhile (a put moved it, or another rotation did): look again
                continue
            moved += 1
            progressed = True
            REWRAPS.labels(outcome="ok").inc()
            log.info("keyvault.rewrapped", integration_id=record.integration_id, kek_id=old_kek, primary=new.kek_id)
            if auditor is not None:
                auditor.record(
                    org_id=record.org_id,
                    actor_id=actor_id,
                    actor_role="operator",
                    action="credential.rewrap",
                    target_id=record.integration_id,
                    detail={"from_kek": old_kek, "to_kek": new.kek_id},
                )
        if not progressed:
            break
    remaining = await repo.count_not_on(sealer.primary)
    log.info("keyvault.rotation_finished", rewrapped=moved, remaining_on_old=remaining, failed=len(failed))
    return Rotated(rewrapped=moved, remaining_on_old=remaining, failed=failed)
