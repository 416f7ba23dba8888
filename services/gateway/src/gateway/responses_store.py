"""Where `previous_response_id` finds its context: JetStream KV bucket `keyrelay_responses`.

Each response this gateway answered (unless the request said `store: false`) is kept as its whole
context (every input item that led to it, the previous responses' included, then its output
items) plus the response object, for 30 days (the bucket's TTL, set by the operator's
`keyrelay provision`; the time OpenAI keeps a stored response). Keys are
`<org id>.<project id>.<response id>`, built from the caller's authenticated API key only, so a
project never reads another's responses, even with a valid id. Values are user content, never
credentials. A value larger than NATS' maximum payload (8 MiB) is not kept: a follow-up to it is
answered like one to an expired response.
"""

from __future__ import annotations

import re

import msgspec
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError

from gateway.project_kv import ProjectBucket
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages.catalog import ApiKeyPrincipal
from shared.subjects import RESPONSES_BUCKET

log = get_logger("keyrelay.gateway.responses")
_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


class StoredResponse(msgspec.Struct, kw_only=True):
    items: list[msgspec.Raw]  # the context a follow-up continues: input items, then output items
    response: msgspec.Raw  # the response object as answered (for `GET /v1/responses/{id}`)


_decode = msgspec.json.Decoder(StoredResponse).decode


def unknown(response_id: str) -> KeyrelayError:
    del response_id  # never echoed: it is the client's input
    return KeyrelayError(
        "invalid_request",
        "previous_response_id names no response of this project that is still kept (responses are kept 30 days, "
        "and never when the request set store: false)",
        param="previous_response_id",
    )


class ResponseStore(ProjectBucket):
    IDS = _ID

    def __init__(self, nc: NatsClient) -> None:
        super().__init__(nc, RESPONSES_BUCKET, "response")

    async def get(self, principal: ApiKeyPrincipal, response_id: str) -> StoredResponse:
        """The stored response of the caller's project, or the contract's 400 naming `previous_response_id`."""
        key = self.key(principal, response_id)
        if key is None:
            raise unknown(response_id)
        kv = await self._bucket()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            raise unknown(response_id) from None
        except NatsError as exc:
            raise KeyrelayError("dependency_unavailable", "the response store is not available") from exc
        if not entry.value:
            raise unknown(response_id)
        return _decode(entry.value)

    async def put(self, principal: ApiKeyPrincipal, response_id: str, stored: StoredResponse) -> None:
        """Keep a response's context; best effort (the answer goes out either way)."""
        key = self.key(principal, response_id)
        if key is None:
            log.warning("responses.not_kept", reason="unusable response id")
            return
        try:
            kv = await self._bucket()
            await kv.put(key, msgspec.json.encode(stored))
        except (KeyrelayError, NatsError, TimeoutError) as exc:
            log.warning("responses.not_kept", error=type(exc).__name__)
