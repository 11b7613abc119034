"""A store on a phone: the rich-text zone is edited with the toolbar and the keyboard, never with
HTML, and the preview shows the formatting; the SMS zone is a multi-line box whose live counter
follows the typing (GSM-7, then UCS-2). And HQ: cancelling an operation asks first, with the number of
store campaigns it cancels, before anything changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from conftest import Network
from glocal.campaigns.models import Campaign, Operation
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import make_operation, publish
from glocal.creatives.models import Personalisation
from glocal.creatives.tests.conftest import publish_demo

from .conftest import PHONE

LogIn = Callable[[Page, str], None]
NewPage = Callable[..., Page]
Screenshot = Callable[[Page, str], None]

pytestmark = pytest.mark.browser

SELECT_WORD = """(editor, word) => {
  const walker = document.createTreeWalker(editor, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.nodeValue.indexOf(word);
    if (at !== -1) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + word.length);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      return true;
    }
  }
  return false;
}"""


def test_store_formats_a_rich_text_zone_with_the_toolbar(
    new_page: NewPage, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    templates = publish_demo(personas)
    page = new_page(PHONE, is_mobile=True)
    log_in(page, "store_a")
    page.goto(f"/templates/{templates.email.pk}/personalise/")

    editor = page.get_by_role("textbox", name="Message")
    expect(editor).to_be_visible()
    expect(editor).to_have_attribute("contenteditable", "true")
    expect(page.locator("textarea[name=z_body]")).to_be_hidden()  # the HTML box is no longer shown
    toolbar = page.get_by_role("toolbar")
    bold = toolbar.get_by_role("button", name="Bold (Ctrl+B)")
    bullets = toolbar.get_by_role("button", name="Bulleted list")
    for button in (bold, toolbar.get_by_role("button", name="Italic (Ctrl+I)"), bullets):
        expect(button).to_have_attribute("aria-pressed", "false")
    expect(toolbar.get_by_role("button", name="Link (Ctrl+K)")).to_be_visible()
    expect(toolbar.get_by_role("button", name="Line break (Shift+Enter)")).to_be_visible()

    # Type over HQ's default, with the keyboard only: Ctrl+B around one word
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("Venez ")
    page.keyboard.press("Control+B")
    page.keyboard.type("goûter")
    page.keyboard.press("Control+B")
    page.keyboard.type(" nos vins de fête.")
    bolds = editor.locator("strong, b")  # the browser writes <b>; the textarea gets <strong>
    expect(bolds).to_have_text("goûter")
    # a word made bold with the toolbar: select it, press Bold
    assert editor.evaluate(SELECT_WORD, "fête")
    bold.click()
    expect(bolds).to_have_text(["goûter", "fête"])
    expect(bold).to_have_attribute("aria-pressed", "true")
    # a bulleted list from the toolbar
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    bullets.click()
    expect(bullets).to_have_attribute("aria-pressed", "true")
    page.keyboard.type("Rouge")
    page.keyboard.press("Enter")
    page.keyboard.type("Blanc")
    expect(editor.locator("ul li")).to_have_text(["Rouge", "Blanc"])

    # the live preview follows (htmx), from the HTML the editor wrote into the textarea
    preview = page.frame_locator('iframe[title="Email preview mobile"]')
    expect(preview.locator("strong", has_text="goûter")).to_be_visible()
    screenshot(page, "store_phone_richtext")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Your content was saved.")

    saved = Personalisation.unscoped.get(entity=personas.store_a).values["body"]
    assert "<strong>goûter</strong>" in saved and "<strong>fête</strong>" in saved, saved
    assert "<ul><li>Rouge</li><li>Blanc</li></ul>" in saved, saved
    # after the save, the preview and the editor show the stored formatting
    expect(
        page.frame_locator('iframe[title="Email preview mobile"]').locator("strong", has_text="goûter")
    ).to_be_visible()
    expect(page.get_by_role("textbox", name="Message").locator("li")).to_have_count(2)


def test_sms_zone_is_a_multiline_box_with_a_live_counter(
    new_page: NewPage, personas: Network, log_in: LogIn
) -> None:
    templates = publish_demo(personas)
    page = new_page(PHONE, is_mobile=True)
    log_in(page, "store_a")
    page.goto(f"/templates/{templates.sms.pk}/personalise/")
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_have_js_property("tagName", "TEXTAREA")
    live = page.get_by_test_id("sms-live")
    expect(live).to_contain_text("GSM-7")
    expect(live).to_contain_text("SMS: 1")
    box.fill("Soirée dégustation jeudi\nRéservez au magasin")
    expect(live).to_contain_text("SMS: 1")
    box.fill("Soirée dégustation jeudi " + "x" * 120)  # with the store's name and STOP: a second SMS
    expect(live).to_contain_text("SMS: 2")
    box.fill("Soirée dégustation 🍷")  # outside the GSM alphabet: UCS-2, 70 characters an SMS
    expect(live).to_contain_text("UCS-2")
    expect(live).to_contain_text("🍷")


def test_cancelling_an_operation_asks_first_with_the_count(
    new_page: NewPage, personas: Network, log_in: LogIn
) -> None:
    templates = publish_demo(personas)
    op = publish(personas, make_operation(personas, templates, participation=Operation.Mode.MANDATORY))
    assert Campaign.unscoped.filter(operation=op).exclude(state=State.CANCELLED).count() == 3
    page = new_page(PHONE, is_mobile=True)
    log_in(page, "hq_marketer")
    page.goto(f"/campaigns/operations/{op.pk}/")
    danger = page.get_by_test_id("danger-zone")
    danger.get_by_role("link", name="Cancel the operation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancel the operation")
    expect(page.get_by_test_id("consequence")).to_have_text("Cancels 3 store campaigns.")
    # nothing has changed yet
    assert Operation.unscoped.get(pk=op.pk).status == Operation.Status.PUBLISHED
    assert not Campaign.unscoped.filter(operation=op, state=State.CANCELLED).exists()
    # changing one's mind goes back with nothing done
    page.get_by_role("link", name="Keep things as they are").click()
    expect(page).to_have_url(f"{page.url.split('/campaigns/')[0]}/campaigns/operations/{op.pk}/")
    assert Operation.unscoped.get(pk=op.pk).status == Operation.Status.PUBLISHED
    page.get_by_test_id("danger-zone").get_by_role("link", name="Cancel the operation").click()
    page.get_by_role("button", name="Cancel the operation").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The operation is cancelled (3 store campaigns cancelled)."
    )
    assert Operation.unscoped.get(pk=op.pk).status == Operation.Status.CANCELLED
    assert set(Campaign.unscoped.filter(operation=op).values_list("state", flat=True)) == {State.CANCELLED}
