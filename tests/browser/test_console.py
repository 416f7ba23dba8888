"""The web console at /ui, driven in a real Chromium against the real stack."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.browser.conftest import Member, bootstrap_owner, sign_up
from tests.conftest import FakeServer

CANARY = "sk-ant-canary-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def org(stack: EmbeddedStack, fake: FakeServer) -> dict[str, Any]:
    fake.add_key("anthropic", CANARY)
    return bootstrap_owner(stack)


@pytest.fixture(scope="module")
def owner(browser: Any, stack: EmbeddedStack, org: dict[str, Any]) -> Member:
    return sign_up(browser, stack, org["email"], org["owner_token"])


def test_an_owner_connects_an_anthropic_key_with_the_three_step_wizard(owner: Member) -> None:
    page = owner.goto("/ui/integrations")
    owner.shoot("external-keys-empty")
    page.get_by_role("link", name="New integration").click()
    owner.shoot("wizard-1-provider")
    page.get_by_role("link", name="Anthropic").first.click()
    page.get_by_label("Name").fill("Anthropic Production")
    assert page.get_by_label("Provider slug").input_value() == "anthropic-production"
    page.get_by_label("Provider slug").fill("anthropic-prod")
    page.get_by_text("anthropic-prod is free").wait_for()
    page.get_by_label("Short description").fill("Production traffic")
    page.get_by_label("API key").fill(CANARY)
    owner.shoot("wizard-2-details")
    page.get_by_role("button", name="Save and choose models").click()
    page.wait_for_url("**/ui/integrations/anthropic-prod/models?wizard=1")
    assert "Step 3 of 3" in page.content()
    owner.shoot("wizard-3-models")
    page.get_by_role("button", name="None").click()
    page.locator("label.toggle", has_text="claude-opus-4-8").click()
    page.locator("label.toggle", has_text="claude-sonnet-4-6").click()
    page.locator("summary", has_text="Add custom model").click()
    page.get_by_label("Model slug").fill("claude-tuned")
    page.get_by_label("Base model").fill("claude-sonnet-4-6")
    page.get_by_label("Input price per 1M tokens (USD)").fill("2.5")
    page.get_by_label("Output price per 1M tokens (USD)").fill("10")
    page.get_by_role("button", name="Add custom model").click()
    page.wait_for_url("**/models?wizard=1")
    assert "claude-tuned" in page.content()
    # the custom-model post reloads the page: the toggles come from the server again
    page.get_by_role("button", name="None").click()
    page.locator("label.toggle", has_text="claude-opus-4-8").click()
    page.locator("label.toggle", has_text="claude-sonnet-4-6").click()
    page.get_by_role("button", name="Finish").click()
    page.wait_for_url("**/ui/integrations/anthropic-prod")
    html = page.content()
    assert "claude-opus-4-8" in html
    assert "claude-tuned" in html
    assert "Replace key" in html
    assert "••" in html  # the masked credential, never the key
    owner.shoot("integration")
    page = owner.goto("/ui/integrations")
    row = page.locator("li.int-row", has_text="anthropic-prod")
    assert "API key · All Projects" in row.inner_text()
    assert "Active" in row.inner_text()
    owner.shoot("external-keys")
    owner.recorder.assert_never_contains(CANARY)


def test_a_wizard_error_is_shown_next_to_the_field_that_caused_it(owner: Member) -> None:
    page = owner.goto("/ui/integrations/new/anthropic")
    page.get_by_label("Name").fill("Clash")
    page.get_by_label("Provider slug").fill("anthropic-prod")
    page.get_by_text("Another integration already uses this slug.").wait_for()
    page.get_by_label("API key").fill(CANARY)
    page.get_by_role("button", name="Save and choose models").click()
    error = page.locator("#slug-error")
    assert error.is_visible()
    assert page.get_by_label("API key").input_value() == ""  # a secret is never sent back
    owner.shoot("wizard-2-error")
    owner.recorder.assert_never_contains(CANARY)


def test_a_form_post_without_the_csrf_token_is_refused(owner: Member) -> None:
    with owner.http() as client:
        response = client.post("/ui/integrations/anthropic-prod/delete", data={})
        assert response.status_code == 403
        response = client.post("/ui/integrations/anthropic-prod/delete", data={"csrf": "0" * 64})
        assert response.status_code == 403
    assert owner.goto("/ui/integrations/anthropic-prod").get_by_role("heading", name="Anthropic Production").is_visible()


def test_console_answers_carry_a_strict_csp_and_the_session_cookie_is_httponly_and_strict(owner: Member) -> None:
    with owner.http() as client:
        response = client.get("/ui/integrations")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in response.text  # no inline script
    cookie = next(c for c in owner.context.cookies() if c["name"] == "keyrelay_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"


def test_signed_out_visitors_are_sent_to_sign_in(stack: EmbeddedStack) -> None:
    response = httpx.get(f"{stack.gateway_url}/ui/integrations", follow_redirects=False)
    assert response.status_code in {302, 303}
    assert response.headers["location"].endswith("/ui/signin")
