"""The console's pricing page: owners set a discount and negotiated prices; project admins read
them; developers are refused; the integration page shows what the terms saved."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from shared.stack import EmbeddedStack
from tests.browser.conftest import Member, chat, owner_with_openai_integration, sign_up
from tests.conftest import wait_for_record

SLUG = "openai-negotiated"


@pytest.fixture(scope="module")
def org(stack: EmbeddedStack) -> dict[str, Any]:
    return owner_with_openai_integration(stack, SLUG, "OpenAI negotiated", ["gpt-4o-mini", "gpt-4.1"])


@pytest.fixture(scope="module")
def owner(browser: Any, stack: EmbeddedStack, org: dict[str, Any]) -> Member:
    return sign_up(browser, stack, org["email"], org["owner_token"])


def _member(browser: Any, stack: EmbeddedStack, org: dict[str, Any], role: str) -> Member:
    email = f"{role}-{secrets.token_hex(3)}@example.com"
    token = org["api"].post("/members", json={"email": email, "projects": {org["project_id"]: role}}).json()["token"]
    return sign_up(browser, stack, email, token)


def test_an_owner_sets_a_discount_and_a_negotiated_price_and_sees_the_savings(
    owner: Member, org: dict[str, Any], stack: EmbeddedStack
) -> None:
    page = owner.goto(f"/ui/integrations/{SLUG}")
    page.get_by_role("link", name="Set prices").click()
    page.get_by_role("heading", name="Pricing").wait_for()
    owner.shoot("pricing-empty")
    page.get_by_label("Discount on list prices (%)").fill("-5")
    page.get_by_role("button", name="Save pricing").click()
    assert "discount_pct must be between 0 and 100" in page.locator(".banner.error").inner_text()
    owner.shoot("pricing-error")
    page.get_by_label("Discount on list prices (%)").fill("20")
    page.get_by_label("Input / 1M for gpt-4.1", exact=True).fill("1.6")
    page.get_by_label("Output / 1M for gpt-4.1").fill("6.4")
    page.get_by_role("button", name="Save pricing").click()
    page.wait_for_url(f"**/ui/integrations/{SLUG}/pricing?saved=1")
    assert page.locator(".banner.ok").is_visible()
    assert "explicit" in page.locator("tr[data-model='gpt-4.1']").inner_text()
    assert "discount" in page.locator("tr[data-model='gpt-4o-mini']").inner_text()
    assert page.get_by_label("Input / 1M for gpt-4.1", exact=True).input_value() == "1.6"
    owner.shoot("pricing-saved")
    stored = org["api"].get(f"/integrations/{SLUG}/pricing").json()
    assert stored["discount_pct"] == 20
    assert stored["models"] == {"gpt-4.1": {"input_per_mtok": 1.6, "output_per_mtok": 6.4}}
    key = org["api"].post("/api-keys", json={"project_id": org["project_id"], "name": "k"}).json()["key"]
    answer = chat(stack, key, f"@{SLUG}/gpt-4o-mini", "hi")
    doc = wait_for_record(stack, answer.headers["x-request-id"])
    assert doc["cost_usd"] < doc["list_cost_usd"]
    page = owner.goto(f"/ui/integrations/{SLUG}")
    page.locator("#savings").wait_for()
    assert page.get_by_text("At list price").is_visible()
    owner.shoot("integration-savings")
    page = owner.goto(f"/ui/activity?integration={SLUG}")
    assert page.locator("section.charts figcaption", has_text="Saved vs list price").count() == 1
    owner.shoot("activity-savings")


def test_a_project_admin_reads_the_prices_and_a_developer_is_refused(
    owner: Member, browser: Any, stack: EmbeddedStack, org: dict[str, Any]
) -> None:
    admin = _member(browser, stack, org, "admin")
    page = admin.goto(f"/ui/integrations/{SLUG}")
    page.get_by_role("link", name="View prices").click()
    page.get_by_role("heading", name="Pricing").wait_for()
    assert page.get_by_role("button", name="Save pricing").count() == 0
    assert page.locator("#pricing-form input[type=text]:not([disabled])").count() == 0
    assert "Read only" in page.content()
    admin.shoot("pricing-admin")
    csrf = admin.csrf()
    with admin.http() as client:
        forged = client.post(f"/ui/integrations/{SLUG}/pricing", data={"csrf": csrf, "rows": "0", "discount_pct": "99"})
        assert forged.status_code == 403
        assert client.post(f"/ui/integrations/{SLUG}/pricing", data={"discount_pct": "99"}).status_code == 403
    developer = _member(browser, stack, org, "developer")
    page = developer.goto(f"/ui/integrations/{SLUG}")
    assert page.get_by_role("link", name="View prices").count() == 0
    assert developer.goto(f"/ui/integrations/{SLUG}/pricing").get_by_role("heading", name="Not allowed").is_visible()
    developer.shoot("pricing-developer")
    assert org["api"].get(f"/integrations/{SLUG}/pricing").json()["discount_pct"] == 20
