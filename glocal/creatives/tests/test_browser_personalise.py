"""In a real browser (Debian chromium via Playwright): a store manager personalises HQ's email; the
preview follows the edits; a locked zone cannot be changed (no field; a forged request is refused);
a text over its limit is refused with a clear message. Also on a tablet-sized screen."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from conftest import build_network
from glocal.creatives.models import Personalisation

from .conftest import publish_demo

# ``browser``: the session's one chromium (tests/browser/chromium.py, registered by the root conftest),
# shared with the journeys in tests/browser: Playwright refuses a second sync browser in one session.
pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("GLOCAL_SCREENSHOTS", "")

CSP_VIOLATIONS: list[str] = []
CONTEXTS: list[BrowserContext] = []


@pytest.fixture(autouse=True)
def _no_csp_violation() -> Iterator[None]:
    """A Content-Security-Policy violation in the console (the previews included) fails the test. The
    test's browser contexts are closed after it (the browser itself lives for the session)."""
    CSP_VIOLATIONS.clear()
    CONTEXTS.clear()
    yield
    for context in CONTEXTS:
        context.close()
    CONTEXTS.clear()
    assert CSP_VIOLATIONS == []


def open_as(browser: Browser, live_server, persona: str, viewport: ViewportSize) -> Page:
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport, locale="en-US", service_workers="block"
    )
    CONTEXTS.append(context)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            CSP_VIOLATIONS.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto("/accounts/login/")
    page.get_by_label(re.compile(r"^Email")).fill(f"{persona}@example.test")
    page.get_by_label(re.compile(r"^Password")).fill("pw-correct-horse")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/")
    return page


def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def test_store_manager_personalises_an_hq_email(browser, live_server, transactional_db):
    network = build_network()
    for user in network.users.values():
        user.language = "en"
        user.save(update_fields=["language"])
    templates = publish_demo(network)
    page = open_as(browser, live_server, "store_a", {"width": 1280, "height": 900})

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="Lettre").click()
    page.get_by_role("link", name="Personalise").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lettre")
    # The locked zone has no field; it is listed as set by head office.
    expect(page.get_by_label("Mention légale")).to_have_count(0)
    expect(page.get_by_text("Mention légale")).to_be_visible()

    desktop = page.frame_locator('iframe[title="Email preview desktop"]')
    expect(desktop.get_by_text("Les nouveautés de la saison")).to_be_visible()
    headline = page.get_by_label("Titre")
    headline.fill("Grande braderie d'automne")
    expect(desktop.get_by_text("Grande braderie d'automne")).to_be_visible()  # htmx preview followed
    page.get_by_label("Offre").select_option("-20 %")
    expect(desktop.get_by_text("Offre : -20 %")).to_be_visible()
    mobile = page.frame_locator('iframe[title="Email preview mobile"]')
    expect(mobile.get_by_text("Grande braderie d'automne")).to_be_visible()
    shot(page, "creatives_personalise_desktop")

    # Over the limit: the counter warns, the server refuses with a clear message, nothing is written.
    headline.fill("x" * 61)
    expect(page.locator("#id_z_headline_counter")).to_have_text("61 / 60")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("“Titre” is limited to 60 characters; 61 were typed.")).to_be_visible()
    assert not Personalisation.unscoped.exists()

    # A forged field for the locked zone, added to the real form: refused, nothing written.
    page.evaluate(
        """() => { const i = document.createElement('input'); i.type = 'hidden'; i.name = 'z_legal';
        i.value = 'Forged'; document.getElementById('zones-form').appendChild(i); }"""
    )
    page.get_by_label("Titre").fill("Grande braderie")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("is locked by head office and cannot be changed")).to_be_visible()
    assert not Personalisation.unscoped.exists()

    page.get_by_label("Titre").fill("Grande braderie")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Your content was saved.")).to_be_visible()
    saved = Personalisation.unscoped.get(entity=network.store_a, version__template=templates.email)
    assert saved.values["headline"] == "Grande braderie" and "legal" not in saved.values

    # On a tablet in portrait, the form and the preview stack; the SMS screen counts segments.
    tablet = open_as(browser, live_server, "store_a", {"width": 768, "height": 1024})
    tablet.goto(f"/templates/{templates.sms.pk}/personalise/")
    tablet.get_by_label("Message").fill("Soldes ç " + "x" * 70)
    expect(tablet.get_by_test_id("sms-counter")).to_contain_text("UCS-2")
    expect(tablet.get_by_test_id("sms-counter")).to_contain_text("2 segments")
    shot(tablet, "creatives_personalise_sms_tablet")


def test_hq_marketer_edits_zones_and_sees_errors_plainly(browser, live_server, transactional_db):
    network = build_network()
    for user in network.users.values():
        user.language = "en"
        user.save(update_fields=["language"])
    templates = publish_demo(network)
    page = open_as(browser, live_server, "hq_marketer", {"width": 1280, "height": 900})
    page.goto("/templates/")
    shot(page, "creatives_list")
    page.get_by_role("link", name="Lettre").click()
    expect(page.get_by_role("cell", name=re.compile("Mention légale"))).to_be_visible()
    page.get_by_role("link", name="Edit source and zones").click()
    zones = page.get_by_label("Zones (JSON)")
    zones.fill('[{"key": "headline", "type": "short_text", "max_length": 60},]')
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile(r"The zones are not valid JSON \(line 1"))).to_be_visible()
    zones.fill('[{"key": "headline", "type": "short_text", "max_length": 9999}]')
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Zone “headline”: max_length must be between 1 and 500.")).to_be_visible()
    shot(page, "creatives_editor")
    # The preview follows unsaved edits of the source (htmx), rendered for a store of the network.
    zones.fill('[{"key": "headline", "type": "short_text", "max_length": 60}]')
    source = page.get_by_label("Source")
    source.fill(source.input_value().replace("Venir au magasin", "Passez nous voir"))
    frame = page.frame_locator('iframe[title="Email preview desktop"]')
    expect(frame.get_by_text("Passez nous voir")).to_be_visible()
    latest = templates.email.latest_version()
    assert latest is not None and latest.number == 1  # nothing saved
