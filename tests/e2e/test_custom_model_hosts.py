"""A custom model on its own host, in its own API format (issue 14): an OpenAI integration whose
custom model lives on an Anthropic-format host answers through the OpenAI SDK, normal and streamed,
with usage and cost in its activity record. The integration's key goes to that host only because
the owner saved it: keyvault binds the key to the integration's base URL plus the custom models'
own hosts, and refuses the key for any other host, whoever asks (the gateway's real access, a
catalog database writer). An unsafe host is refused with a clear 400."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from typing import Any

import openai
import pytest
from nacl.public import PublicKey
from nacl.signing import SigningKey
from pymongo import MongoClient

from gateway.keyvault_client import KeyvaultClient
from shared import subjects
from shared.bus import BusClient
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages import keyvault as kv
from shared.stack import EmbeddedStack
from shared.tokens import hash_token
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record
from tests.e2e.nats_users import connect_as

PRICE = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}
SLUG = "hosted"


class Hosted:
    def __init__(self, org: Org, key: str, provider_key: str, host: str) -> None:
        self.org, self.key, self.provider_key, self.host = org, key, provider_key, host

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.org.stack.gateway_url}/v1", api_key=self.key, max_retries=0)


@pytest.fixture(scope="module")
def hosted(stack: EmbeddedStack, fake: FakeServer) -> Hosted:
    """An OpenAI integration (the fake's OpenAI endpoint) with `house-claude` on the fake's
    Anthropic endpoint; the fake accepts the integration's one key on both."""
    org = bootstrap(stack)
    provider_key = f"sk-hosted-{secrets.token_hex(12)}"
    fake.add_key("openai", provider_key)
    fake.add_key("anthropic", provider_key)
    org.integration(SLUG, provider_key)
    host = f"{fake.root}/anthropic"
    added = org.owner.post(
        f"/integrations/{SLUG}/custom-models",
        json={"slug": "house-claude", "custom_host": {"base_url": host, "api_format": "anthropic"}, "pricing": PRICE},
    )
    assert added.status_code == 201, added.text
    assert added.json()["custom_host"] == {"base_url": host, "api_format": "anthropic"}
    return Hosted(org, org.api_key(), provider_key, host)


def _cost(usage: dict[str, Any]) -> float:
    return (
        float(usage["prompt_tokens"] * PRICE["input_per_mtok"] + usage["completion_tokens"] * PRICE["output_per_mtok"])
        / 1e6
    )


def _sent(fake: FakeServer, marker: str) -> list[dict[str, Any]]:
    return [r for r in fake.requests() if marker in str(r.get("body"))]


def test_a_custom_model_on_an_anthropic_host_answers_the_openai_sdk_normal_and_streamed(
    hosted: Hosted, fake: FakeServer
) -> None:
    client = hosted.client()
    marker = f"hosted-{secrets.token_hex(4)}"
    raw = client.chat.completions.with_raw_response.create(
        model=f"@{SLUG}/house-claude", messages=[{"role": "user", "content": marker}]
    )
    answer = raw.parse()
    assert marker in (answer.choices[0].message.content or "")
    assert answer.usage is not None
    assert answer.usage.total_tokens > 0
    doc = wait_for_record(hosted.org.stack, raw.headers["x-request-id"])
    assert (doc["status"], doc["integration"], doc["model_served"]) == (200, SLUG, "house-claude")
    assert doc["usage"]["prompt_tokens"] == answer.usage.prompt_tokens
    assert doc["cost_usd"] == pytest.approx(_cost(doc["usage"]))
    assert doc["cost_usd"] > 0
    [sent] = _sent(fake, marker)
    assert sent["path"] == "/anthropic/v1/messages"  # the Anthropic wire format, on the model's own host

    streamed = f"streamed-{secrets.token_hex(4)}"
    raw_stream = client.chat.completions.with_raw_response.create(
        model=f"@{SLUG}/house-claude",
        messages=[{"role": "user", "content": streamed}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw_stream.parse())
    assert streamed in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.total_tokens > 0
    doc = wait_for_record(hosted.org.stack, raw_stream.headers["x-request-id"])
    assert (doc["status"], doc["stream"]) == (200, True)
    assert doc["usage"]["completion_tokens"] == usage.completion_tokens
    assert doc["cost_usd"] == pytest.approx(_cost(doc["usage"]))
    assert doc["cost_usd"] > 0
    # the integration's own models still go to its own host, in its own format
    plain = f"plain-{secrets.token_hex(4)}"
    client.chat.completions.create(model=f"@{SLUG}/gpt-4o-mini", messages=[{"role": "user", "content": plain}])
    assert [r["path"] for r in _sent(fake, plain)] == ["/openai/v1/chat/completions"]


def test_a_custom_model_on_an_unsafe_host_is_refused_with_a_clear_400(hosted: Hosted) -> None:
    for base_url in ("http://169.254.169.254/latest", "http://10.0.0.7/v1", "ftp://example.com/v1"):
        refused = hosted.org.owner.post(
            f"/integrations/{SLUG}/custom-models",
            json={"slug": f"bad-{secrets.token_hex(2)}", "custom_host": {"base_url": base_url, "api_format": "openai"}},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "upstream_not_allowed", refused.text
    models = hosted.org.owner.get(f"/integrations/{SLUG}/models").json()["custom"]
    assert [c["slug"] for c in models] == ["house-claude"]


async def _reveal_as_gateway(stack: EmbeddedStack, hosted: Hosted, integration_id: str, base_url: str) -> str:
    """With the gateway's real NATS user and signing key: ask keyvault for the key for `base_url`."""
    errors: list[str] = []
    nc = await connect_as(stack, "gateway", errors)
    try:
        bus = BusClient(nc, default_timeout_s=5)
        principal = await bus.request(
            subjects.CATALOG_AUTH_API_KEY, m.AuthenticateApiKey(key_hash=hash_token(hosted.key)), m.ApiKeyPrincipal
        )
        client = KeyvaultClient(
            bus,
            SigningKey(base64.b64decode(stack.secrets["KEYRELAY_GATEWAY_SIGNING_KEY"])),
            PublicKey(base64.b64decode(stack.secrets["KEYRELAY_KEYVAULT_PUBLIC_KEY"])),
            timeout_s=5,
        )
        revealed = await client.reveal(
            org_id=principal.org_id,
            project_id=principal.project_id,
            integration_id=integration_id,
            project_proof=principal.project_proof,
            base_url=base_url,
        )
        return revealed.base_url
    finally:
        await nc.close()


def test_the_gateways_own_access_cannot_get_the_key_for_a_host_the_owner_did_not_bind(
    stack: EmbeddedStack, hosted: Hosted
) -> None:
    """The bound hosts answer (the integration's and the model's); any other host is refused."""
    integration_id = hosted.org.owner.get(f"/integrations/{SLUG}").json()["id"]
    assert asyncio.run(_reveal_as_gateway(stack, hosted, integration_id, hosted.host)) == hosted.host
    for elsewhere in ("https://attacker.example/v1", f"{hosted.host}/x", "http://127.0.0.1:1/anthropic"):
        with pytest.raises(KeyrelayError) as caught:
            asyncio.run(_reveal_as_gateway(stack, hosted, integration_id, elsewhere))
        assert caught.value.code == "forbidden"
        assert "host_not_bound" in caught.value.message


def test_catalogs_own_access_cannot_bind_a_host_without_an_owners_assertion(
    stack: EmbeddedStack, hosted: Hosted
) -> None:
    integration_id = hosted.org.owner.get(f"/integrations/{SLUG}").json()["id"]

    async def bind() -> None:
        errors: list[str] = []
        nc = await connect_as(stack, "catalog", errors)
        try:
            msg = kv.SetModelHosts(
                assertion=b"forged",
                org_id=hosted.org.org_id,
                integration_id=integration_id,
                base_urls=["https://attacker.example/v1"],
            )
            await BusClient(nc, default_timeout_s=5).request(subjects.KEYVAULT_HOSTS, msg, kv.Done)
        finally:
            await nc.close()

    with pytest.raises(KeyrelayError) as caught:
        asyncio.run(bind())
    assert caught.value.code == "owner_required"


def test_a_catalog_database_writer_cannot_send_the_key_to_another_host(stack: EmbeddedStack, fake: FakeServer) -> None:
    """The attacker rewrites a custom model's host in catalog's database: the gateway routes there,
    keyvault refuses the key for that host, nothing reaches it, and the refusal is audited."""
    org = bootstrap(stack)
    provider_key = f"sk-redirect-{secrets.token_hex(12)}"
    fake.add_key("openai", provider_key)
    fake.add_key("anthropic", provider_key)
    org.integration("redirect", provider_key)
    added = org.owner.post(
        "/integrations/redirect/custom-models",
        json={"slug": "m1", "custom_host": {"base_url": f"{fake.root}/anthropic", "api_format": "anthropic"}},
    )
    assert added.status_code == 201, added.text
    integration_id = org.owner.get("/integrations/redirect").json()["id"]
    mongo: MongoClient[dict[str, Any]]
    with MongoClient(stack.mongodb_uri) as mongo:
        mongo["keyrelay_catalog"]["integrations"].update_one(
            {"_id": integration_id},
            {"$set": {"custom_models.0.custom_host.base_url": f"{fake.root}/attacker"}},
        )
    # no change event is sent for a direct write: this project's first request reads the rewritten routes
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=org.api_key(), max_retries=0)
    marker = f"redirected-{secrets.token_hex(4)}"
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="@redirect/m1", messages=[{"role": "user", "content": marker}])
    assert caught.value.status_code >= 400
    assert not _sent(fake, marker)
    assert _refusals(org, integration_id)


def _refusals(org: Org, integration_id: str) -> list[dict[str, Any]]:
    """keyvault's refusals of this integration's key for an unbound host, from the audit log."""
    deadline = time.monotonic() + 15
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        found = [
            event
            for event in org.owner.get("/audit", params={"limit": 200}).json()["data"]
            if event["target_id"] == integration_id
            and event["action"] == "credential.decrypt"
            and event["detail"].get("reason") == "host_not_bound"
        ]
        time.sleep(0.3)
    return found
