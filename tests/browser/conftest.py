"""Browser fixtures: a live Django server, one headless Debian chromium per session, a fresh
browser context per test, and the persona network with English-speaking users.

Never run ``playwright install``: the tests drive the system chromium (``make browser-deps``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop running in the main thread, so Django's async-safety
# check would refuse every ORM call made by a fixture or test (SynchronousOnlyOperation). The ORM
# calls here are synchronous and in the main thread: the documented Playwright + pytest-django
# workaround is to switch the check off.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from pytest_django.live_server_helper import LiveServer  # noqa: E402

from conftest import Network, build_network  # noqa: E402

CHROMIUM = os.environ.get("GLOCAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No internet here (nor in CI): keep chromium from calling Google in the background.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "pw-correct-horse"
# Set GLOCAL_SCREENSHOTS=/some/dir to keep screenshots of the key pages for a visual check.
SCREENSHOT_DIR = os.environ.get("GLOCAL_SCREENSHOTS", "")

expect.set_options(timeout=10_000)


def email_of(persona: str) -> str:
    return f"{persona}@example.test"


def field(page: Page, label: str) -> Locator:
    """The form control labelled ``label`` (Django's labels end with a colon)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}:?$"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (make browser-deps)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh context (its own cookies) on the live server; closed after the test.
    A Content-Security-Policy violation reported in the console (an inline script or handler, an
    image or frame the policy refuses) fails the test."""
    contexts: list[BrowserContext] = []
    violations: list[str] = []

    def _new_page(viewport: ViewportSize | None = None, *, is_mobile: bool = False) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or DESKTOP,
            is_mobile=is_mobile,
            has_touch=is_mobile,
            locale="en-US",
            service_workers="block",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield _new_page
    for context in contexts:
        context.close()
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A desktop page (1280×800)."""
    return new_page(DESKTOP)


@pytest.fixture
def phone_page(new_page: Callable[..., Page]) -> Page:
    """A phone-sized page (390×844, touch)."""
    return new_page(PHONE, is_mobile=True)


@pytest.fixture
def personas(live_server: LiveServer, transactional_db: None) -> Network:
    """The persona network, committed so the live server thread sees it. Users default to French;
    the journeys pin them to English so assertions read the source strings (the language switch
    has its own test)."""
    network = build_network()
    for user in network.users.values():
        user.language = "en"
        user.save(update_fields=["language"])
    return network


@pytest.fixture
def log_in(live_server: LiveServer) -> Callable[[Page, str], None]:
    """Log ``persona`` in through the real login form (correct password only: axes is on)."""

    def _log_in(page: Page, persona: str) -> None:
        page.goto("/accounts/login/")
        field(page, "Email").fill(email_of(persona))
        field(page, "Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in", exact=True).click()
        expect(page).to_have_url(f"{live_server.url}/")

    return _log_in


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    def _screenshot(page: Page, name: str) -> None:
        if SCREENSHOT_DIR:
            page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)

    return _screenshot
