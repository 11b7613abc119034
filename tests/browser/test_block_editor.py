"""HQ builds an email from a blank page with the block editor: drags a text block and an image block
from the palette, lets the stores edit both through the blocks' forms, saves and finds the two zones;
then changes the preview's store and the unsaved edit is still in the preview."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from conftest import Network
from glocal.creatives.models import ChannelTemplate, TemplateVersion

LogIn = Callable[[Page, str], None]
NewPage = Callable[..., Page]
Screenshot = Callable[[Page, str], None]

pytestmark = pytest.mark.browser


def settled(page: Page) -> None:
    """The live preview has answered (no htmx request in flight)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def preview_html(page: Page) -> Locator:
    return page.locator("#preview iframe").first


def test_hq_builds_an_email_from_blocks_and_the_preview_keeps_unsaved_edits(
    new_page: NewPage, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    # Tall enough for the palette and the page to be in view together: a drag never scrolls.
    page = new_page({"width": 1280, "height": 1600})
    log_in(page, "hq_marketer")
    page.goto("/templates/new/")
    page.get_by_label("Name").fill("Rentrée")
    page.get_by_label("Channel").select_option("email")
    page.get_by_role("button", name="Create").click()
    canvas = page.get_by_test_id("block-canvas")
    expect(canvas).to_contain_text("A blank page")
    expect(page.locator("textarea[name=blocks_json]")).to_be_hidden()

    page.get_by_test_id("palette-text").drag_to(canvas)
    text = page.get_by_test_id("block-text")
    expect(text).to_have_count(1)
    page.get_by_test_id("palette-image").drag_to(page.get_by_test_id("column").first)
    image = page.get_by_test_id("block-image")
    expect(image).to_have_count(1)
    expect(page.get_by_test_id("column").first.get_by_test_id("block-image")).to_have_count(1)

    text.get_by_label("Stores may edit this").check()
    text.get_by_label("Zone label").fill("Accroche")
    expect(text.get_by_label("Zone key")).to_have_value("accroche")
    image.get_by_label("Alternative text").fill("Notre vitrine")
    image.get_by_label("Stores may edit this").check()
    image.get_by_label("Zone label").fill("Photo du magasin")
    image.get_by_label("Local manager").check()
    settled(page)
    screenshot(page, "block-editor")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft v1 saved.")).to_be_visible()
    zones = page.locator("table").filter(has_text="Who edits")
    expect(zones).to_contain_text("accroche")
    expect(zones).to_contain_text("photo_du_magasin")
    expect(zones).to_contain_text("Local manager")
    template = ChannelTemplate.unscoped.get(name="Rentrée")
    version = TemplateVersion.unscoped.get(template=template)
    assert [z["key"] for z in version.zones] == ["accroche", "photo_du_magasin"]

    # An unsaved edit, then another store: the preview shows the edit for that store.
    text = page.get_by_test_id("block-text")
    text.locator("summary").click()  # its properties, closed after the page reloads
    editor = text.get_by_role("textbox", name="Text")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("Grande rentrée des classes")
    settled(page)
    expect(preview_html(page)).to_have_attribute("srcdoc", re.compile("Grande rentrée des classes"))
    page.get_by_label("Preview with the store").select_option(label="Magasin B")
    settled(page)
    expect(preview_html(page)).to_have_attribute("srcdoc", re.compile("Magasin B"))
    expect(preview_html(page)).to_have_attribute("srcdoc", re.compile("Grande rentrée des classes"))
    assert (
        TemplateVersion.unscoped.get(template=template).zones[0]["default"]
        != "<p>Grande rentrée des classes</p>"
    )


def test_blocks_are_added_moved_duplicated_and_removed_with_the_keyboard(
    page: Page, personas: Network, log_in: LogIn
) -> None:
    log_in(page, "hq_marketer")
    page.goto("/templates/new/")
    page.get_by_label("Name").fill("Clavier")
    page.get_by_label("Channel").select_option("email")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("button", name="Add Text").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Add Button").focus()
    page.keyboard.press("Enter")
    blocks = page.locator(".be-block")
    expect(blocks).to_have_count(2)
    expect(blocks.nth(0)).to_have_attribute("data-testid", "block-text")
    move_up = page.get_by_test_id("block-button").get_by_role("button", name=re.compile("^Move up"))
    move_up.focus()
    page.keyboard.press("Enter")  # past the top of its section: into the section above, at its end
    expect(page.get_by_test_id("section")).to_have_count(2)
    page.get_by_test_id("block-button").get_by_role("button", name=re.compile("^Move up")).press("Enter")
    expect(blocks.nth(0)).to_have_attribute("data-testid", "block-button")
    expect(
        page.get_by_role("button", name=re.compile("^Move up")).and_(page.locator(":focus"))
    ).to_have_count(1)
    page.get_by_test_id("block-text").get_by_role("button", name=re.compile("^Duplicate")).press("Enter")
    expect(page.get_by_test_id("block-text")).to_have_count(2)
    page.get_by_test_id("block-button").get_by_role("button", name=re.compile("^Remove")).press("Enter")
    expect(page.get_by_test_id("block-button")).to_have_count(0)
    settled(page)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft v1 saved.")).to_be_visible()
    saved = TemplateVersion.unscoped.get(template__name="Clavier").blocks
    assert [b["type"] for s in saved["sections"] for c in s["columns"] for b in c["blocks"]] == [
        "text",
        "text",
    ]
