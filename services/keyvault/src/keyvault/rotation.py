"""KEK rotation: re-wrap every record's data key under the primary KEK.

Idempotent and resumable: each record is moved with a compare-and-set on (kek_id, version), so a
crash mid-way leaves every record either on the old or the new KEK, both readable, and running
it again finishes the job. The secret's own ciphertext is never re-encrypted.
"""

from __future__ import annotations

from keyvault.crypto import Envelope, Sealer, identity
from keyvault.repository import CredentialRepository
from shared.messages.keyvault import Rotated


async def rotate(repo: CredentialRepository, sealer: Sealer, *, batch: int = 100) -> Rotated:
    moved = 0
    while True:
        docs = await repo.not_on(sealer.primary, batch)
        if not docs:
            break
        progressed = False
        for doc in docs:
            env = Envelope(kek_id=doc["kek_id"], wrapped_key=doc["wrapped_key"], ciphertext=doc["ciphertext"])
            new = sealer.rewrap(env, identity(doc["org_id"], doc["_id"], doc["provider"], doc["base_url"]))
            if await repo.compare_and_rewrap(doc["_id"], doc["kek_id"], doc.get("version", 0), new.kek_id, new.wrapped_key):
                moved += 1
                progressed = True
        if not progressed:
            break
    return Rotated(rewrapped=moved, remaining_on_old=await repo.count_not_on(sealer.primary))
