"""Thin bus handlers: decode (done by `shared.bus.serve`), call the vault, reply; a write also
broadcasts that the integration's credential changed (ids only)."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription

from keyvault.audit import Auditor
from keyvault.rotation import rotate
from keyvault.vault import Vault
from shared import subjects
from shared.bus import encode, serve
from shared.messages import keyvault as kv
from shared.messages.base import Ping, Pong


async def register(nc: NatsClient, vault: Vault, auditor: Auditor) -> list[Subscription]:
    """Serve every keyvault subject behind the `keyvault` queue group; the subscriptions, to drain."""
    queue = subjects.QUEUE_KEYVAULT

    async def changed(org_id: str, integration_id: str) -> None:
        await nc.publish(
            subjects.EVENT_CREDENTIAL_CHANGED,
            encode(kv.CredentialChanged(org_id=org_id, integration_id=integration_id)),
        )

    async def reveal(req: kv.RevealRequest, _: object) -> kv.RevealGranted:
        return await vault.reveal(req)

    async def put(req: kv.PutCredential, _: object) -> kv.Stored:
        view = await vault.put(req)
        await changed(req.org_id, req.integration_id)
        return kv.Stored(view=view)

    async def delete(req: kv.DeleteCredential, _: object) -> kv.Done:
        await vault.delete(req)
        await changed(req.org_id, req.integration_id)
        return kv.Done()

    async def scope(req: kv.SetScope, _: object) -> kv.Done:
        await vault.set_scope(req)
        await changed(req.org_id, req.integration_id)
        return kv.Done()

    async def hosts(req: kv.SetModelHosts, _: object) -> kv.Done:
        await vault.set_model_hosts(req)
        await changed(req.org_id, req.integration_id)
        return kv.Done()

    async def describe(req: kv.DescribeCredentials, _: object) -> kv.Described:
        return await vault.describe(req)

    async def rotate_keks(req: kv.RotateKeks, _: object) -> kv.Rotated:
        return await rotate(vault.repo, vault.sealer, vault.floors, batch=req.batch, auditor=auditor)

    async def ping(_: Ping, __: object) -> Pong:
        return Pong(service="keyvault", detail=f"primary_kek={vault.sealer.primary}")

    return [
        await serve(nc, subjects.KEYVAULT_REVEAL, kv.RevealRequest, reveal, queue=queue),
        await serve(nc, subjects.KEYVAULT_PUT, kv.PutCredential, put, queue=queue),
        await serve(nc, subjects.KEYVAULT_DELETE, kv.DeleteCredential, delete, queue=queue),
        await serve(nc, subjects.KEYVAULT_SCOPE, kv.SetScope, scope, queue=queue),
        await serve(nc, subjects.KEYVAULT_HOSTS, kv.SetModelHosts, hosts, queue=queue),
        await serve(nc, subjects.KEYVAULT_DESCRIBE, kv.DescribeCredentials, describe, queue=queue),
        await serve(nc, subjects.KEYVAULT_ROTATE, kv.RotateKeks, rotate_keks, queue=queue),
        await serve(nc, subjects.KEYVAULT_PING, Ping, ping, queue=queue),
    ]
