"""Version floors: the lowest record version keyvault still accepts for each integration.

Every write (put, scope change, rotation) raises the floor to the version it stored; a delete raises
it past the deleted version. A reveal or rotation of a record below its floor is refused and audited:
it is an old record put back by someone who can write the database. The floors live in a JetStream
KV bucket only keyvault may write (`shared.vault.versions`), so a database writer cannot lower them.

A record above its floor is accepted and raises the floor: only keyvault can make a record that
authenticates, so a higher version is one keyvault wrote (and crashed before raising the floor).
A missing floor counts as 0 (a record stored before the floors existed, or a bucket the operator
re-created): the first version seen then becomes the floor.
"""

from __future__ import annotations

import hashlib
import re

from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.vault.versions import BUCKET

log = get_logger("keyrelay.keyvault.floors")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ATTEMPTS = 8


def _key(integration_id: str) -> str:
    """The integration id itself when it is a valid KV key, else a hash of it (`h.` cannot be an id)."""
    if _PLAIN_KEY.fullmatch(integration_id):
        return integration_id
    return "h." + hashlib.sha256(integration_id.encode()).hexdigest()


def _unavailable() -> KeyrelayError:
    return KeyrelayError("dependency_unavailable", "keyvault's version floors are unavailable")


class VersionFloors:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(BUCKET)
            except (NatsError, TimeoutError) as exc:
                raise _unavailable() from exc
        return self._kv

    async def _read(self, integration_id: str) -> tuple[int, int]:
        """(floor, revision); (0, 0) when there is none yet."""
        kv = await self._bucket()
        try:
            entry = await kv.get(_key(integration_id))
        except (KeyNotFoundError, KeyDeletedError):
            return 0, 0
        except (NatsError, TimeoutError) as exc:
            raise _unavailable() from exc
        try:
            return int(entry.value or b"0"), entry.revision or 0
        except ValueError:
            return 0, entry.revision or 0

    async def get(self, integration_id: str) -> int:
        return (await self._read(integration_id))[0]

    async def raise_to(self, integration_id: str, version: int) -> int:
        """Make the floor at least `version` (compare-and-set, so replicas never lower it); the floor after."""
        kv = await self._bucket()
        for _ in range(_ATTEMPTS):
            floor, revision = await self._read(integration_id)
            if floor >= version:
                return floor
            try:
                if revision == 0:
                    await kv.create(_key(integration_id), str(version).encode())
                else:
                    await kv.update(_key(integration_id), str(version).encode(), last=revision)
            except KeyWrongLastSequenceError:
                continue  # another replica moved it meanwhile: read again
            except (NatsError, TimeoutError) as exc:
                raise _unavailable() from exc
            return version
        raise KeyrelayError("conflict", "the credential's version changed concurrently: retry")

    async def follow(self, integration_id: str, version: int) -> None:
        """After a stored write: a failure only leaves the floor behind (the next reveal raises it), so log it."""
        try:
            await self.raise_to(integration_id, version)
        except KeyrelayError as exc:
            log.error("keyvault.floor_not_raised", integration_id=integration_id, version=version, error=exc.code)  # noqa: TRY400
