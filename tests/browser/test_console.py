"""The web console at /ui, driven in a real Chromium against the real stack."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.browser.conftest import PASSWORD, Member, bootstrap_owner, sign_up
from tests.conftest import FakeServer, wait_for_record

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
    page = owner.goto("/ui/integrations/anthropic-prod/edit")
    assert "Step 1 of 2" in page.content()
    page.get_by_label("Short description").fill("Production traffic, EU team")
    owner.shoot("integration-edit")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url("**/ui/integrations/anthropic-prod/models?edit=1")
    assert "Step 2 of 2" in page.content()
    page = owner.goto("/ui/integrations/anthropic-prod/credentials")
    page.get_by_label("API key").fill(CANARY)
    owner.shoot("replace-key")
    page.get_by_role("button", name="Replace key").click()
    page.wait_for_url("**/ui/integrations/anthropic-prod")
    assert "Production traffic, EU team" in page.content()
    owner.recorder.assert_never_contains(CANARY)


def test_an_api_key_created_in_the_console_serves_a_request_that_shows_in_activity_and_charts(
    owner: Member, stack: EmbeddedStack
) -> None:
    page = owner.goto("/ui/keys")
    page.get_by_label("Name").fill("backend")
    page.get_by_label("Requests per minute").fill("600")
    page.get_by_label("Budget (USD)").fill("25")
    page.get_by_label("Budget period").select_option("month")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("kr-")
    assert page.get_by_role("button", name="Copy").is_visible()
    owner.shoot("api-key-created")
    response = httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "@anthropic-prod/claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-keyrelay-integration"] == "anthropic-prod"
    wait_for_record(stack, response.headers["x-request-id"])
    page = owner.goto("/ui/activity")
    row = page.locator("table.data tbody tr").first
    assert "anthropic-prod" in row.inner_text()
    assert "claude-opus-4-8" in row.inner_text()
    charts = page.locator("section.charts svg")
    assert charts.count() == 5  # requests, errors, cost, saved vs list price, p95 latency
    assert page.locator("section.charts polyline, section.charts circle").count() >= 4
    assert "anthropic-prod: total 1" in (charts.first.get_attribute("aria-label") or "")
    owner.shoot("activity")
    page.locator("table.data tbody tr a").first.click()
    page.get_by_role("heading", name="Attempts").wait_for()
    assert "anthropic-prod" in page.locator("table.data").inner_text()
    owner.shoot("activity-detail")
    page = owner.goto("/ui/activity?integration=anthropic-prod&status=500")
    assert "No requests match." in page.content()
    owner.goto("/ui/integrations/anthropic-prod")
    assert "Error rate" in owner.page.content()
    owner.recorder.assert_never_contains(CANARY)


def test_an_owner_builds_a_virtual_model_and_a_versioned_config_that_reference_the_slug(owner: Member) -> None:
    page = owner.goto("/ui/configs")
    page.get_by_label("Name", exact=True).fill("resilient")
    page.get_by_label("Strategy").select_option("fallback")
    page.get_by_label("Attempts per target").fill("2")
    page.get_by_label("Target 1 integration").select_option("anthropic-prod")
    page.get_by_label("Model", exact=False).first.fill("claude-opus-4-8")
    page.get_by_label("Target 2 integration").select_option("anthropic-prod")
    page.locator("#f-model_1").fill("claude-sonnet-4-6")
    owner.shoot("configs")
    page.get_by_role("button", name="Create config").click()
    page.wait_for_url("**/ui/configs/resilient")
    assert '"integration": "anthropic-prod"' in page.locator("pre.json").inner_text()
    page.get_by_label("Total timeout (ms)").fill("30000")
    page.get_by_role("button", name="Save as v2").click()
    page.wait_for_url("**/ui/configs/resilient")
    assert "v2" in page.locator("h1").inner_text()
    assert "30000" in page.locator("pre.json").inner_text()
    owner.shoot("config")
    page.get_by_role("button", name="Roll back to v1").click()
    page.wait_for_url("**/ui/configs/resilient")
    assert "30000" not in page.locator("pre.json").inner_text()
    page.get_by_label("JSON (nested configs, conditions)").check()
    page.get_by_label("JSON", exact=True).fill("{not json")
    page.get_by_role("button", name="Save as").click()
    assert page.locator("#json-error").is_visible()

    page = owner.goto("/ui/virtual-models")
    page.get_by_label("Name", exact=True).fill("chat-default")
    page.get_by_label("Target 1 model").fill("@anthropic-prod/claude-sonnet-4-6")
    page.get_by_label("Target 2 model").fill("@anthropic-prod/claude-tuned")
    page.get_by_label("Gateway config").select_option("resilient")
    owner.shoot("virtual-models")
    page.get_by_role("button", name="Create virtual model").click()
    page.wait_for_url("**/ui/virtual-models/chat-default")
    page.get_by_label("Strategy").select_option("loadbalance")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/ui/virtual-models/chat-default?saved=1")
    assert page.get_by_label("Strategy").input_value() == "loadbalance"
    owner.shoot("virtual-model")
    page = owner.goto("/ui/integrations/anthropic-prod")
    refs = page.locator("ul.refs").inner_text()
    assert "chat-default" in refs
    assert "resilient" in refs
    owner.goto("/ui/audit")
    assert "config.put" in owner.page.content()
    owner.shoot("audit")
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
    assert (
        owner.goto("/ui/integrations/anthropic-prod").get_by_role("heading", name="Anthropic Production").is_visible()
    )


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


def _invite(owner: Member, email: str, role: str) -> str:
    page = owner.goto("/ui/members")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Role in default").select_option(role)
    page.get_by_role("button", name="Invite").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("krm_")
    return token


def test_a_developer_sees_the_integration_but_cannot_edit_or_reveal_its_key(
    owner: Member, browser: Any, stack: EmbeddedStack
) -> None:
    email = f"dev-{secrets.token_hex(3)}@example.com"
    token = _invite(owner, email, "developer")
    owner.shoot("members")
    developer = sign_up(browser, stack, email, token)
    page = developer.goto("/ui/integrations")
    assert "anthropic-prod" in page.content()
    assert page.get_by_role("link", name="New integration").count() == 0
    developer.shoot("external-keys-developer")
    page = developer.goto("/ui/integrations/anthropic-prod")
    html = page.content()
    assert "Replace key" not in html
    assert "Delete anthropic-prod" not in html
    assert page.get_by_role("link", name="Edit").count() == 0
    developer.shoot("integration-developer")
    models = developer.goto("/ui/integrations/anthropic-prod/models")
    assert models.locator("input[name=enabled]:not([disabled])").count() == 0
    assert models.get_by_role("button", name="Save models").count() == 0
    for path in ("/ui/integrations/anthropic-prod/credentials", "/ui/integrations/anthropic-prod/edit", "/ui/audit"):
        assert developer.goto(path).get_by_role("heading", name="Not allowed").is_visible(), path
    csrf = developer.csrf()
    with developer.http() as client:
        forged = client.post(
            "/ui/integrations/anthropic-prod/credentials", data={"csrf": csrf, "cred_api_key": "sk-ant-forged"}
        )
        assert forged.status_code == 403
        forged = client.post("/ui/integrations/anthropic-prod/delete", data={"csrf": csrf})
        assert forged.status_code == 403
        forged = client.post("/ui/integrations/anthropic-prod/models", data={"csrf": csrf, "preset": "none"})
        assert forged.status_code == 403
    for path in ("/ui/activity", "/ui/keys", "/ui/members", "/ui/virtual-models", "/ui/configs"):
        developer.goto(path)
        developer.shoot("developer-" + path.rsplit("/", 1)[-1])
    developer.recorder.assert_never_contains(CANARY)
    assert owner.goto("/ui/integrations/anthropic-prod").locator("code.masked").inner_text().endswith(CANARY[-3:])


def test_a_removed_members_session_stops_working(owner: Member, browser: Any, stack: EmbeddedStack) -> None:
    email = f"gone-{secrets.token_hex(3)}@example.com"
    member = sign_up(browser, stack, email, _invite(owner, email, "admin"))
    assert member.goto("/ui/keys").get_by_role("heading", name="API keys").is_visible()
    page = owner.goto("/ui/members")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text=email).get_by_role("button", name="Remove").click()
    page.wait_for_load_state()
    member.goto("/ui/keys")
    assert member.page.url.endswith("/ui/signin")
    with member.http() as client:
        assert client.get("/ui/integrations").status_code in {302, 303}


def test_a_role_change_ends_the_members_sessions(owner: Member, browser: Any, stack: EmbeddedStack) -> None:
    email = f"promoted-{secrets.token_hex(3)}@example.com"
    member = sign_up(browser, stack, email, _invite(owner, email, "developer"))
    page = owner.goto("/ui/members")
    row = page.locator("tr", has_text=email)
    row.get_by_label(f"Role of {email} in default").select_option("admin")
    row.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    member.goto("/ui/keys")
    assert member.page.url.endswith("/ui/signin")


def test_sign_in_is_locked_for_a_minute_after_five_wrong_passwords(owner: Member, stack: EmbeddedStack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        form = client.get("/ui/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf
        for _ in range(5):
            wrong = client.post(
                "/ui/signin", data={"csrf": csrf.group(1), "email": owner.email, "password": "nope" * 4}
            )
            assert wrong.status_code == 401
            assert "Wrong email or password" in wrong.text
        right = client.post("/ui/signin", data={"csrf": csrf.group(1), "email": owner.email, "password": PASSWORD})
        assert right.status_code == 429
        assert "keyrelay_session" not in right.headers.get("set-cookie", "")


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(stack: EmbeddedStack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/signin").text)
        assert csrf
        answer = client.post(
            "/ui/signin", data={"csrf": csrf.group(1), "email": "nobody@example.com", "password": "x" * 12}
        )
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text


def test_a_member_token_sets_a_password_only_once(org: dict[str, Any], owner: Member, stack: EmbeddedStack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/set-password").text)
        assert csrf
        again = client.post(
            "/ui/set-password",
            data={"csrf": csrf.group(1), "token": org["owner_token"], "password": "y" * 14, "confirm": "y" * 14},
        )
    assert again.status_code == 409
