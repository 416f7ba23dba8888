"""What a management command answers: a typed outcome, not an HTTP reply.

`Ok` carries what the caller asked to see, `Created` what was made, `Done` nothing (a removal, an
audited refusal). Refusals are `KeyrelayError`s with their stable code. The gateway maps outcomes
and codes to HTTP status codes (`gateway.api.outcomes`); the bus carries `ManageReply.outcome`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from catalog.context import Ctx
from catalog.repository import Doc
from shared.messages import catalog as m


class Ok(msgspec.Struct, frozen=True):
    body: Doc  # the caller's view (`catalog.views`), never a secret


class Created(msgspec.Struct, frozen=True):
    body: Doc


class Done(msgspec.Struct, frozen=True):
    pass


Result = Ok | Created | Done

Handler = Callable[[Ctx, m.MemberPrincipal, Any], Awaitable[Result]]


def to_reply(result: Result) -> m.ManageReply:
    match result:
        case Ok(body):
            return m.ManageReply(outcome="ok", body=msgspec.Raw(msgspec.json.encode(body)))
        case Created(body):
            return m.ManageReply(outcome="created", body=msgspec.Raw(msgspec.json.encode(body)))
        case Done():
            return m.ManageReply(outcome="done")
