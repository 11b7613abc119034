"""The one headless Debian chromium of a test session, shared by every browser test: the journeys in
``tests/browser`` and the apps' own, such as ``glocal/creatives/tests/test_browser_personalise.py``.

Registered for the whole session by the root ``conftest.py`` (``pytest_plugins``): Playwright's sync API
keeps an asyncio loop running in the main thread while it is open, so a second ``sync_playwright()`` in
the same session is refused ("using Playwright Sync API inside the asyncio loop") — hence one browser,
launched by the first test that asks for it and closed at the end of the session.

Never run ``playwright install``: the tests drive the system chromium (``make browser-deps``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """The session's chromium. While it is open, Playwright's loop runs in the main thread, so Django's
    async-safety check would refuse every ORM call of the tests and fixtures (SynchronousOnlyOperation);
    those calls are synchronous and in the main thread: the documented Playwright + pytest-django
    workaround is to switch the check off for as long as the browser is open."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (make browser-deps)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield launched
            finally:
                launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
