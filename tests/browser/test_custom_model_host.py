"""The console's "Add custom model" with a custom host of its own, in its own API format: saved,
shown with its format, refused next to the field when the host is unsafe, and served."""

from __future__ import annotations

from typing import Any

import pytest

from shared.stack import EmbeddedStack
from tests.browser.conftest import Member, chat, owner_with_openai_integration, sign_up
from tests.conftest import PROVIDER_KEY, FakeServer, wait_for_record

SLUG = "openai-hosts"


@pytest.fixture(scope="module")
def org(stack: EmbeddedStack, fake: FakeServer) -> dict[str, Any]:
    fake.add_key("anthropic", PROVIDER_KEY)  # the integration's one key, accepted by the model's own host too
    return owner_with_openai_integration(stack, SLUG, "OpenAI with hosts", ["gpt-4o-mini"])


@pytest.fixture(scope="module")
def owner(browser: Any, stack: EmbeddedStack, org: dict[str, Any]) -> Member:
    return sign_up(browser, stack, org["email"], org["owner_token"])


def test_an_owner_adds_a_custom_model_on_an_anthropic_host_and_sees_its_format(
    owner: Member, org: dict[str, Any], stack: EmbeddedStack, fake: FakeServer
) -> None:
    page = owner.goto(f"/ui/integrations/{SLUG}/models")
    page.locator("summary", has_text="Add custom model").click()
    page.get_by_label("Model slug").fill("metadata-model")
    page.get_by_label("Custom host").fill("http://169.254.169.254/latest")
    page.get_by_label("API format").select_option("anthropic")
    page.get_by_role("button", name="Add custom model").click()
    assert page.locator("#custom_host-error").is_visible()  # next to the "Custom host" field
    assert page.get_by_label("API format").input_value() == "anthropic"  # the form keeps what was chosen
    owner.shoot("custom-model-host-refused")
    page.get_by_label("Model slug").fill("house-claude")
    page.get_by_label("Custom host").fill(f"{fake.root}/anthropic")
    page.get_by_label("API format").select_option("anthropic")
    page.get_by_label("Input price per 1M tokens (USD)").fill("3")
    page.get_by_label("Output price per 1M tokens (USD)").fill("15")
    page.get_by_role("button", name="Add custom model").click()
    page.wait_for_url(f"**/ui/integrations/{SLUG}/models")
    row = page.locator("table.data tr", has_text="house-claude")
    assert f"{fake.root}/anthropic" in row.inner_text()
    assert "Anthropic format" in row.inner_text()
    assert "metadata-model" not in page.content()
    owner.shoot("custom-model-host")
    page = owner.goto(f"/ui/integrations/{SLUG}")
    assert "(anthropic)" in page.locator("li", has_text="house-claude").inner_text()
    key = org["api"].post("/api-keys", json={"project_id": org["project_id"], "name": "hosts"}).json()["key"]
    response = chat(stack, key, f"@{SLUG}/house-claude", "hello hosts")
    assert response.status_code == 200, response.text
    doc = wait_for_record(stack, response.headers["x-request-id"])
    assert doc["cost_usd"] > 0
    owner.recorder.assert_never_contains(PROVIDER_KEY)
