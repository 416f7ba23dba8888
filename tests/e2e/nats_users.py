"""Connect to the test stack's nats-server as a service would (its user, password and inbox prefix),
collecting the server's asynchronous errors (permissions violations) for the test to assert on."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client as NatsClient

from shared.stack import EmbeddedStack


async def connect_as(stack: EmbeddedStack, user: str, errors: list[str]) -> NatsClient:
    """A client with `user`'s real access; every error the server reports is appended, lower-cased, to `errors`."""

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    return await nats.connect(
        stack.nats_url,
        user=user,
        password=stack.password(user),
        error_cb=on_error,
        inbox_prefix=f"_INBOX.{user}".encode(),
        max_reconnect_attempts=0,
    )


async def subscription_errors(stack: EmbeddedStack, user: str, subject: str) -> list[str]:
    """What nats-server reports when `user` subscribes to `subject` (a violation arrives asynchronously)."""
    errors: list[str] = []
    nc = await connect_as(stack, user, errors)
    try:
        await nc.subscribe(subject)
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    return errors
