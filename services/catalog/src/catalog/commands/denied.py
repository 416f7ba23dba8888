"""Refusals made at the gateway's edge (before a body is read) are audited here, like catalog's own.

catalog does not take the gateway's word for it: the refusal is recorded only when the same rule
(`shared.authz.precheck`) refuses the caller here too.
"""

from __future__ import annotations

from catalog.context import Ctx
from catalog.results import Done
from shared.authz import RULES, precheck
from shared.errors import KeyrelayError
from shared.messages import catalog as m

_COMMANDS = {kind.__name__: kind for kind in RULES}


async def record_denied(ctx: Ctx, who: m.MemberPrincipal, cmd: m.RecordDenied) -> Done:
    kind = _COMMANDS.get(cmd.command)
    if kind is None or kind is m.RecordDenied:
        raise KeyrelayError("invalid_request", "unknown command", param="command")
    try:
        precheck(who, kind)
    except KeyrelayError:
        ctx.events.audit(who, who.org_id, f"{cmd.command}.denied", "command", cmd.command, outcome="denied")
    return Done()
