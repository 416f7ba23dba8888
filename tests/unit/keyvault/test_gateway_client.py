"""The gateway's keyvault client: only keyvault's replies to its own requests, cached briefly."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey

from gateway.keyvault_client import KeyvaultClient
from shared.errors import KeyrelayError
from shared.messages import keyvault as kv

GATEWAY = SigningKey.generate()
KEYVAULT = PrivateKey.generate()


class FakeKeyvault:
    """Stands in for the bus: answers like keyvault would, or like an impostor when told to."""

    def __init__(
        self,
        *,
        signer: PrivateKey = KEYVAULT,
        request_id: str | None = None,
        integration_id: str | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.signer = signer
        self.request_id = request_id
        self.integration_id = integration_id
        self.delay_s = delay_s
        self.calls: list[kv.RevealClaims] = []

    async def request(self, subject: str, msg: kv.RevealRequest, reply_type: Any, **_: Any) -> kv.RevealGranted:
        claims = msgspec.json.decode(GATEWAY.verify_key.verify(msg.signed), type=kv.RevealClaims)
        self.calls.append(claims)
        await asyncio.sleep(self.delay_s)
        payload = kv.RevealedPayload(
            request_id=self.request_id or claims.request_id,
            integration_id=self.integration_id or claims.integration_id,
            base_url="https://api.openai.com/v1",
            fingerprint="fp",
            secret={"api_key": "sk-test-abcdefgh", "headers": {"x-h": "v"}},
        )
        boxed = Box(self.signer, PublicKey(claims.reply_key)).encrypt(msgspec.json.encode(payload))
        return kv.RevealGranted(boxed=bytes(boxed))


def client(bus: FakeKeyvault, **kwargs: Any) -> KeyvaultClient:
    return KeyvaultClient(bus, GATEWAY, KEYVAULT.public_key, **kwargs)  # type: ignore[arg-type]


async def test_a_genuine_reply_yields_secrets_and_the_bound_base_url() -> None:
    """The credential comes back wrapped in Secrets, with keyvault's base URL."""
    bus = FakeKeyvault()
    revealed = await client(bus).reveal(org_id="org_1", project_id="prj_1", integration_id="int_1")
    assert revealed.base_url == "https://api.openai.com/v1"
    assert revealed.credential.api_key is not None
    assert revealed.credential.api_key.reveal() == "sk-test-abcdefgh"
    assert "sk-test" not in repr(revealed)
    claims = bus.calls[0]
    assert (claims.purpose, claims.org_id, claims.project_id) == (kv.REVEAL_PURPOSE, "org_1", "prj_1")


@pytest.mark.parametrize(
    "bus",
    [
        FakeKeyvault(signer=PrivateKey.generate()),
        FakeKeyvault(request_id="kvr_other"),
        FakeKeyvault(integration_id="int_other"),
    ],
    ids=["not-from-keyvault", "for-another-request", "for-another-integration"],
)
async def test_a_forged_or_misdirected_reply_is_rejected(bus: FakeKeyvault) -> None:
    """A reply boxed by another key, or naming another request or integration, is refused."""
    with pytest.raises(KeyrelayError) as info:
        await client(bus).reveal(org_id="org_1", project_id="prj_1", integration_id="int_1")
    assert info.value.code == "dependency_unavailable"


async def test_a_tampered_reply_is_rejected() -> None:
    """Flipping a byte of the box makes it fail authentication."""
    gw = client(FakeKeyvault())
    one_time = PrivateKey.generate()
    payload = kv.RevealedPayload(
        request_id="kvr_1", integration_id="int_1", base_url="https://x", fingerprint="", secret={}
    )
    boxed = bytearray(Box(KEYVAULT, one_time.public_key).encrypt(msgspec.json.encode(payload)))
    boxed[-1] ^= 1
    with pytest.raises(KeyrelayError, match="authenticated"):
        gw.open_reply(kv.RevealGranted(boxed=bytes(boxed)), one_time, request_id="kvr_1", integration_id="int_1")


async def test_the_cache_is_per_project_and_evicted_by_integration_or_org() -> None:
    """Hits skip keyvault; another project asks again; invalidate and invalidate_org evict."""
    bus = FakeKeyvault()
    gw = client(bus)
    for _ in range(3):
        await gw.reveal(org_id="org_1", project_id="prj_1", integration_id="int_1")
    assert len(bus.calls) == 1
    await gw.reveal(org_id="org_1", project_id="prj_2", integration_id="int_1")
    await gw.reveal(org_id="org_2", project_id="prj_9", integration_id="int_9")
    assert len(bus.calls) == 3
    gw.invalidate("int_1")
    assert len(gw) == 1
    gw.invalidate_org("org_2")
    assert len(gw) == 0


async def test_the_cache_is_bounded_and_expires() -> None:
    """At most max_size entries; a zero TTL means every call goes to keyvault."""
    bus = FakeKeyvault()
    gw = client(bus, max_size=2)
    for i in range(5):
        await gw.reveal(org_id="org_1", project_id="prj_1", integration_id=f"int_{i}")
    assert len(gw) == 2
    expiring = client(bus, ttl_s=0.0)
    await expiring.reveal(org_id="org_1", project_id="prj_1", integration_id="int_x")
    await expiring.reveal(org_id="org_1", project_id="prj_1", integration_id="int_x")
    assert sum(c.integration_id == "int_x" for c in bus.calls) == 2


async def test_concurrent_misses_share_one_round_trip() -> None:
    """Twenty simultaneous requests for one key make one keyvault request."""
    bus = FakeKeyvault(delay_s=0.05)
    gw = client(bus)
    results = await asyncio.gather(*(gw.reveal(org_id="o", project_id="p", integration_id="i") for _ in range(20)))
    assert len(bus.calls) == 1
    assert len({r.base_url for r in results}) == 1


async def test_a_fetch_racing_an_invalidation_is_not_cached() -> None:
    """A change event during a round trip means the (possibly stale) answer is used once, not cached."""
    bus = FakeKeyvault(delay_s=0.05)
    gw = client(bus)
    task = asyncio.create_task(gw.reveal(org_id="o", project_id="p", integration_id="i"))
    await asyncio.sleep(0.01)
    gw.invalidate("i")
    await task
    assert len(gw) == 0
