"""How every service opens MongoDB: one set of client options, so the write guarantees are in one place.

Production runs a replica set: a write is acknowledged only once a majority of its members hold it
(`w="majority"`, so a failover never rolls back a record or a credential that was answered as
stored), and a write interrupted by a failover or a dropped connection is retried once by the
driver (`retryWrites`; every write here is an insert by `_id`, an upsert or a conditional update,
so a retry cannot apply twice). A single-node server (the embedded SecantusDB, which presents
itself as a one-member replica set) takes the same options: its majority is itself.
"""

from __future__ import annotations

from typing import Any, Final

CLIENT_OPTIONS: Final[dict[str, Any]] = {
    "tz_aware": True,
    "w": "majority",
    "retryWrites": True,
    "retryReads": True,
}

# The activity service's writes are retried by JetStream instead: an event is acknowledged only
# after its write, so a write that failed (a failover, a dropped connection) is handed back and
# repeated, and every one of them is safe to repeat (an insert by `_id`, an upsert, a generation
# bump). The driver's own retry adds nothing there, and a retryable write costs the embedded
# SecantusDB a remembered reply per write that it prunes by scanning (and, once it holds 10,000,
# sorting) all of them on every write: a few milliseconds of its CPU per write.
ACTIVITY_CLIENT_OPTIONS: Final[dict[str, Any]] = CLIENT_OPTIONS | {"retryWrites": False}
