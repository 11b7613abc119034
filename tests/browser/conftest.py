"""Browser fixtures: a live Django server, a fresh browser context per test in the session's one
headless Debian chromium (the ``browser`` fixture of ``tests/browser/chromium.py``, shared with the
apps' browser tests), and the persona network with English-speaking users.

Never run ``playwright install``: the tests drive the system chromium (``make browser-deps``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from conftest import Network, build_network

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
