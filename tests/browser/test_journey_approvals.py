"""Approvals at scale, in a real browser: the regional manager clears 100 pending local campaigns from
the queue with select-all and its confirmation page; the keyboard shortcuts move, select, open the
comment and approve; on a phone each proof comes before its decision buttons."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from conftest import Network
from glocal.campaigns.models import Campaign
from glocal.campaigns.tests.conftest import demo_templates
from glocal.campaigns.tests.test_approval_queue import submit_pending

from .conftest import PHONE

LogIn = Callable[[Page, str], None]
Screenshot = Callable[[Page, str], None]
NewPage = Callable[..., Page]

pytestmark = pytest.mark.browser


def test_the_region_clears_100_pending_campaigns_with_select_all(
    new_page: NewPage, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    templates = demo_templates(personas)
    campaigns = submit_pending(personas, templates.email, 100)
    ids = [c.pk for c in campaigns]

    page = new_page()
    log_in(page, "regional")
    started = time.monotonic()
    page.goto("/campaigns/approvals/")
    expect(page.get_by_test_id("queue-count")).to_contain_text("100 proofs wait for your decision.")
    items = page.get_by_test_id("queue-item")
    expect(items).to_have_count(100)
    first = items.first
    expect(first.get_by_test_id("q-store")).to_have_text(personas.store_a.name)
    expect(first.get_by_test_id("q-recipients")).to_have_text("1")
    # the thumbnail is the proof itself, loaded when it comes into view
    expect(first.frame_locator("iframe").get_by_text("Soldes").first).to_be_visible()
    screenshot(page, "approvals_queue")

    # the keyboard: j moves to the first proof, x selects it, r opens the comment, Esc closes it
    page.keyboard.press("j")
    expect(first).to_be_focused()
    page.keyboard.press("x")
    expect(first.get_by_role("checkbox")).to_be_checked()
    page.keyboard.press("r")
    expect(first.get_by_label("What should change?")).to_be_focused()
    page.keyboard.press("Escape")
    expect(first).to_be_focused()

    # select-all, then the confirmation page says how many
    page.get_by_label("Select all 100 proofs shown").check()
    expect(page.get_by_text("Selected: 100")).to_be_visible()
    page.get_by_test_id("approve-selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve 100 campaigns?")
    expect(page.get_by_test_id("consequence")).to_contain_text("Approves 100 campaigns")
    assert Campaign.unscoped.filter(pk__in=ids, state="submitted").count() == 100  # asked, not done
    page.get_by_test_id("confirm-approve").click()
    expect(page.get_by_text("100 proofs approved.")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Nothing waits for you.")).to_be_visible()
    elapsed = time.monotonic() - started
    assert Campaign.unscoped.filter(pk__in=ids, state="scheduled").count() == 100
    assert elapsed < 300, f"clearing the queue took {elapsed:.0f} s"


def test_keyboard_approval_comes_back_on_the_next_proof_and_a_phone_shows_the_proof_first(
    new_page: NewPage, personas: Network, log_in: LogIn
) -> None:
    templates = demo_templates(personas)
    first, second, third = submit_pending(personas, templates.sms, 3)

    page = new_page()
    log_in(page, "regional")
    page.goto("/campaigns/approvals/")
    items = page.get_by_test_id("queue-item")
    expect(items).to_have_count(3)
    page.keyboard.press("j")
    page.keyboard.press("a")  # approve the proof in focus
    expect(page.get_by_text(f"Approved: {first.name}.")).to_be_visible()
    expect(items).to_have_count(2)
    expect(items.first).to_be_focused()  # back on the next proof
    assert Campaign.unscoped.get(pk=first.pk).state == "scheduled"

    # turned off, the shortcuts do nothing
    page.get_by_text("Keyboard shortcuts", exact=True).click()
    page.get_by_label("Use the keyboard shortcuts on this page").uncheck()
    items.first.focus()
    page.keyboard.press("a")
    page.wait_for_timeout(500)
    assert Campaign.unscoped.get(pk=second.pk).state == "submitted"

    phone = new_page(PHONE, is_mobile=True)
    log_in(phone, "regional")
    phone.goto("/campaigns/approvals/")
    item = phone.get_by_test_id("queue-item").first
    proof = item.locator(".qproof").bounding_box()
    approve = item.get_by_role("button", name="Approve").bounding_box()
    assert proof is not None and approve is not None
    assert proof["y"] + proof["height"] <= approve["y"], (proof, approve)
    scroll_width = phone.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, scroll_width
