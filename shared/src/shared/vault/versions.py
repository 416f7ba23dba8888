"""Keyvault's version floors: where they live, who may write them, and how the operator makes them.

A database writer can put back any credential record keyvault once wrote: it still authenticates,
because it was genuine. So keyvault keeps, per integration, the lowest version it may still accept
(its *floor*) outside MongoDB, in a JetStream KV bucket that only keyvault's NATS user (and the
operator) may write: `natsconf` grants `$KV.<bucket>.>` to nobody else. Services never create
streams or buckets; the operator side provisions this one with the others (`shared.provision`: the
embedded stack and `keyrelay provision`; `deploy/README.md` for clusters).
"""

from __future__ import annotations

from typing import Final

BUCKET: Final = "keyrelay_keyvault_versions"
_STREAM: Final = f"KV_{BUCKET}"


def keyvault_permissions() -> list[str]:
    """What keyvault's NATS user needs for the bucket: bind to it, read and compare-and-set. Never create."""
    return [
        f"$KV.{BUCKET}.>",
        f"$JS.API.STREAM.INFO.{_STREAM}",
        f"$JS.API.DIRECT.GET.{_STREAM}.>",
        f"$JS.API.STREAM.MSG.GET.{_STREAM}",
    ]
