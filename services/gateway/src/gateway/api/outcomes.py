"""Management outcomes to HTTP: catalog says what a command did, the gateway says it in HTTP.

Success travels as `ManageReply.outcome`; a refusal travels as a `Failed` reply and arrives as a
`KeyrelayError` whose code carries its own HTTP status (`shared.errors`)."""

from __future__ import annotations

from typing import Final

from shared.messages.catalog import ManageOutcome, ManageReply

HTTP_STATUS: Final[dict[ManageOutcome, int]] = {"ok": 200, "created": 201, "done": 204}


def http_status(reply: ManageReply) -> int:
    return HTTP_STATUS[reply.outcome]
