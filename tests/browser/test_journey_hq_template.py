"""The HQ marketer's journey through the block editor (issue 17's acceptance): from the templates list,
a new email built from a blank page by dragging blocks from the palette; two editable zones defined on
the blocks' forms (a headline with a maximum length and a button label, each naming who may edit);
saved; previewed as store A then store B and in dark mode; a test sent to two seed addresses that a real
SMTP server receives with the "[TEST]" subject; publishing refused while a restricted word fails the
checks, with the error shown, and accepted once the word is gone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from conftest import Network
from glocal.creatives.models import ChannelTemplate, TemplateVersion
from tests.browser.conftest import field

LogIn = Callable[[Page, str], None]
NewPage = Callable[..., Page]
Shot = Callable[[Page, str], None]

pytestmark = pytest.mark.browser


@pytest.fixture
def smtp(settings: Any, smtp_server: Any) -> Iterator[Any]:
    """The campaigns' email transport pointed at the real SMTP server of ``smtp_server``. The live
    server runs in this process: it reads these settings, and the test send delivers while the request
    runs (each message is accepted by the server before the answer comes back)."""
    settings.GLOCAL_EMAIL_PROVIDER = ""
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = settings.EMAIL_PORT
    yield smtp_server


def settled(page: Page) -> None:
    """No htmx request in flight: the re-rendered parts (preview, test-send form) are in place."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def previewed(page: Page, text: str) -> None:
    """The live preview shows ``text``, and no request is in flight: the last edit has been answered,
    so nothing races the save that follows (every edit resets the form's one delayed trigger)."""
    expect(page.locator("#preview")).to_contain_text(text)
    settled(page)


def preview_frame(page: Page) -> Locator:
    return page.locator("#preview iframe").first


def dark_frame(page: Page) -> Locator:
    return page.get_by_test_id("dark-preview").locator("iframe")


def test_hq_marketer_builds_previews_tests_and_publishes_an_email_from_blocks(
    new_page: NewPage, personas: Network, log_in: LogIn, smtp: Any, screenshot: Shot
) -> None:
    # Tall enough for the palette and the page to be in view together: a drag never scrolls.
    page = new_page({"width": 1280, "height": 1600})
    log_in(page, "hq_marketer")

    # A new email template, from the templates list.
    page.goto("/templates/")
    page.get_by_role("link", name="New template").click()
    field(page, "Name").fill("Rentrée des classes")
    field(page, "Channel").select_option("email")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("The template was created.")).to_be_visible()
    canvas = page.get_by_test_id("block-canvas")
    expect(canvas).to_contain_text("A blank page")

    # Built from the blank page by dragging blocks from the palette.
    page.get_by_test_id("palette-text").drag_to(canvas)
    expect(page.get_by_test_id("block-text")).to_have_count(1)
    page.get_by_test_id("palette-button").drag_to(page.get_by_test_id("column").first)
    expect(page.get_by_test_id("block-button")).to_have_count(1)

    # Two editable zones, defined on the blocks' forms.
    text = page.get_by_test_id("block-text")
    editor = text.get_by_role("textbox", name="Text")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("La rentrée commence chez nous")
    text.get_by_label("Stores may edit this").check()
    text.get_by_label("Zone label").fill("Accroche")
    text.get_by_label("Maximum length (characters)").fill("60")
    text.get_by_label("Local manager").check()
    button = page.get_by_test_id("block-button")
    button.get_by_label("Label", exact=True).fill("Voir les offres")
    button.get_by_label("Link (https://…)").fill("https://example.com/rentree")
    button.get_by_label("Stores may edit this").check()
    button.get_by_label("Zone label").fill("Libellé du bouton")
    button.get_by_label("Maximum length (characters)").fill("25")
    button.get_by_label("Local manager").check()
    button.get_by_label("Local staff").check()
    field(page, "Subject").fill("La rentrée chez {{ store.name }}")
    field(page, "Subject").press("Tab")  # its change: the preview follows at once
    previewed(page, "La rentrée chez Magasin A")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft v1 saved.")).to_be_visible()
    zones = page.locator("table").filter(has_text="Who edits")
    expect(zones.locator("tbody tr")).to_have_count(2)
    expect(zones).to_contain_text("accroche")
    expect(zones).to_contain_text("libelle_du_bouton")
    template = ChannelTemplate.unscoped.get(name="Rentrée des classes")
    version = TemplateVersion.unscoped.get(template=template)
    assert version.published_at is None
    by_key = {z["key"]: z for z in version.zones}
    assert set(by_key) == {"accroche", "libelle_du_bouton"}
    assert by_key["accroche"]["max_length"] == 60
    assert by_key["accroche"]["roles"] == ["local_manager"]
    assert by_key["libelle_du_bouton"]["max_length"] == 25
    assert sorted(by_key["libelle_du_bouton"]["roles"]) == ["local_manager", "local_staff"]
    assert by_key["libelle_du_bouton"]["default"] == "Voir les offres"

    # Previewed as store A, then store B, and in dark mode.
    store = page.get_by_label("Preview with the store")
    for shown, other in (("Magasin A", "Magasin B"), ("Magasin B", "Magasin A")):
        store.select_option(label=shown)
        settled(page)
        expect(preview_frame(page)).to_have_attribute("srcdoc", re.compile(f"{shown} —"))
        expect(preview_frame(page)).not_to_have_attribute("srcdoc", re.compile(f"{other} —"))
        expect(preview_frame(page)).to_have_attribute("srcdoc", re.compile("La rentrée commence chez nous"))
        expect(page.locator("#preview")).to_contain_text(f"La rentrée chez {shown}")
    # The dark frame: this email has no dark colours of its own, so a client's inversion is shown.
    dark = page.get_by_test_id("dark-preview")
    expect(dark_frame(page)).to_be_visible()
    expect(dark).to_contain_text("Dark mode (375 px)")
    expect(dark).to_contain_text("shown as a client that inverts colours shows it")
    expect(dark_frame(page)).to_have_attribute("srcdoc", re.compile("Magasin B —"))
    dark_page = page.frame_locator("[data-testid=dark-preview] iframe").locator("html")
    expect(dark_page).to_contain_text("La rentrée commence chez nous")
    expect(dark_page).to_contain_text("Voir les offres")
    assert "invert(1)" in dark_page.evaluate("html => getComputedStyle(html).filter")
    expect(page.get_by_test_id("findings")).to_contain_text("No problem found.")
    screenshot(page, "hq-template-preview-store-b")

    # A test to a seed list of two addresses, rendered as store B.
    test_send = page.get_by_test_id("test-send")
    test_send.get_by_label(re.compile("^Addresses")).fill("qa@example.test\nchef.produit@example.test")
    test_send.get_by_label("Render as store").select_option(label="Magasin B")
    test_send.get_by_role("button", name="Send the test").click()
    settled(page)
    expect(page.get_by_test_id("test-send").get_by_role("status")).to_contain_text(
        "sent to 2 addresses: qa@example.test, chef.produit@example.test"
    )
    received = {to[0]: message for _from, to, message in smtp.messages}
    assert sorted(received) == ["chef.produit@example.test", "qa@example.test"]
    for address, message in received.items():
        assert message["To"].addresses[0].addr_spec == address
        assert message["Subject"] == "[TEST] La rentrée chez Magasin B"
        assert message["From"].addresses[0].display_name == "Magasin B"
        html = message.get_body(("html",)).get_content()
        assert "La rentrée commence chez nous" in html and "Magasin B" in html

    # A restricted word fails the checks: publishing is refused, the error shown.
    page.goto("/templates/")
    page.get_by_role("link", name="Content rules").click()
    field(page, "Restricted words").fill("gratuit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    page.goto(f"/templates/{template.pk}/edit/")
    page.get_by_test_id("palette-text").drag_to(page.get_by_test_id("column").first)
    added = page.get_by_test_id("block-text").nth(1)
    added.get_by_role("textbox", name="Text").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("Livraison gratuite dès 30 €")
    previewed(page, "“gratuit” is a restricted word for this network.")
    page.get_by_role("button", name="Save and publish").click()
    notices = page.locator("ul.messages")
    expect(notices.locator("li.success")).to_have_text("Draft v1 saved.")  # a draft is saved in place
    expect(notices.locator("li.error")).to_have_text("“gratuit” is a restricted word for this network.")
    expect(page).to_have_url(re.compile(rf"/templates/{template.pk}/$"))
    expect(page.get_by_test_id("publish-findings")).to_contain_text("restricted word")
    expect(
        page.get_by_test_id("publish-section").get_by_role("button", name=re.compile("^Publish"))
    ).to_have_count(0)
    template.refresh_from_db()
    assert template.status == ChannelTemplate.Status.DRAFT
    assert not TemplateVersion.unscoped.filter(template=template, published_at__isnull=False).exists()
    screenshot(page, "hq-template-publish-refused")

    # Fixed in the editor: published.
    page.get_by_role("link", name="Fix in the editor").click()
    fixed = page.get_by_test_id("block-text").nth(1)
    fixed.locator("summary").first.click()
    fixed.get_by_role("textbox", name="Text").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("Livraison offerte dès 30 €")
    previewed(page, "No problem found.")
    page.get_by_role("button", name="Save and publish").click()
    expect(page.get_by_text(re.compile(r"^Version 1 is published\."))).to_be_visible()
    expect(page.get_by_test_id("versions")).to_contain_text("v1 — published")
    template.refresh_from_db()
    assert template.status == ChannelTemplate.Status.PUBLISHED
    published = TemplateVersion.unscoped.get(template=template)
    assert published.published_at is not None
    assert "Livraison offerte dès 30 €" in published.source and "gratuit" not in published.source
