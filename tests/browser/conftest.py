"""Browser fixtures: Debian's Chromium (launched by path, never downloaded) driven by Playwright.

Outside CI a missing Chromium skips these tests with one line naming the install command; in CI
(`CI=true`) it is a failure. Screenshots go to `screenshots/console/` (git-ignored).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import run_cli

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

INSTALL_HINT = "apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots" / "console"
VIEWPORTS = {"laptop": (1280, 800), "phone": (390, 844)}
PASSWORD = "correct horse battery staple"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is
    open, which would break later tests that call `asyncio.run()`."""
    path = chromium_path()
    if path is None:
        message = f"browser tests need Debian's Chromium: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only when a browser exists

    # `launch()` gives Chromium a fresh, temporary user-data-dir of its own on every run.
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Recorder:
    """Every response a browser context received: the canary must never be in any of them."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def on_response(self, response: Response) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.all_headers().items())
        try:
            body = response.text() if response.status not in {301, 302, 303, 307, 308} else ""
        except Exception:
            body = ""
        self.seen.append((response.url, headers + "\n\n" + body))

    def assert_never_contains(self, secret: str) -> None:
        leaks = [url for url, text in self.seen if secret in text]
        assert not leaks, f"the secret appeared in {leaks}"
        assert self.seen, "no responses were recorded"


@dataclass
class Member:
    email: str
    token: str
    context: BrowserContext
    page: Page
    recorder: Recorder
    base: str

    def goto(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def shoot(self, name: str) -> None:
        """This page at laptop and phone widths."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, (width, height) in VIEWPORTS.items():
            self.page.set_viewport_size({"width": width, "height": height})
            overflow = self.page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{name} is {overflow}px wide at {width}px"
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 800})

    def http(self) -> httpx.Client:
        """An HTTP client carrying this browser session's cookies (for forged and CSRF-less posts)."""
        cookies = {c["name"]: c["value"] for c in self.context.cookies()}
        return httpx.Client(base_url=self.base, cookies=cookies, timeout=30, follow_redirects=False)

    def csrf(self) -> str:
        html = self.goto("/ui/integrations").content()
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match
        return match.group(1)


def sign_up(browser: Browser, stack: EmbeddedStack, email: str, token: str) -> Member:
    """Set the first password with the member token, then sign in with email and password."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    recorder = Recorder()
    context.on("response", recorder.on_response)
    page = context.new_page()
    member = Member(email, token, context, page, recorder, stack.gateway_url)
    member.goto("/ui/set-password")
    member.shoot("set-password")
    page.get_by_label("Member token").fill(token)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/ui/signin?notice=password-set")
    sign_in(member)
    return member


def sign_in(member: Member, password: str = PASSWORD) -> None:
    page = member.goto("/ui/signin")
    member.shoot("signin")
    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/integrations")


def bootstrap_owner(stack: EmbeddedStack) -> dict[str, Any]:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    result = run_cli(stack, "bootstrap", "--org", f"console-{secrets.token_hex(4)}", "--owner-email", email)
    assert result.returncode == 0, result.stderr
    import json  # noqa: PLC0415

    return {**json.loads(result.stdout), "email": email}


def owner_with_openai_integration(stack: EmbeddedStack, slug: str, name: str, enabled: list[str]) -> dict[str, Any]:
    """A new org's owner (as `bootstrap_owner`) with an OpenAI integration `slug` on the test's
    provider key, and `api`: a management API client signed in as that owner."""
    from tests.conftest import PROVIDER_KEY  # noqa: PLC0415

    created = bootstrap_owner(stack)
    api = httpx.Client(
        base_url=f"{stack.gateway_url}/api/v1",
        headers={"authorization": f"Bearer {created['owner_token']}"},
        timeout=30,
    )
    body = {
        "provider": "openai",
        "name": name,
        "slug": slug,
        "credentials": {"api_key": PROVIDER_KEY},
        "models": {"enabled": enabled},
    }
    assert api.post("/integrations", json=body).status_code == 201
    return {**created, "api": api}


def chat(stack: EmbeddedStack, key: str, model: str, content: str) -> httpx.Response:
    """One chat completion through the gateway with an API key (what the console's pages then show)."""
    return httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": content}]},
        timeout=30,
    )
