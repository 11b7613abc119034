"""Campaigns in a real browser: HQ creates an operation (a wave, its default content) and publishes
it; store A takes part and personalises on a phone; the regional manager approves the proof; store B
opts out; HQ sees participation and the calendar."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from conftest import Network
from glocal.campaigns.tests.conftest import add_contacts
from glocal.creatives.tests.conftest import publish_demo

from .conftest import PHONE, field

LogIn = Callable[[Page, str], None]
Screenshot = Callable[[Page, str], None]
NewPage = Callable[..., Page]

pytestmark = pytest.mark.browser


def _day(days: int) -> dt.datetime:
    return timezone.localtime() + dt.timedelta(days=days)


def _main_nav(page: Page, name: str) -> None:
    if (page.viewport_size or {"width": 1280})["width"] <= 760:
        # a phone: the navigation is collapsed behind the menu button, which glocal.js shows
        menu = page.get_by_role("button", name="Menu", exact=True)
        expect(menu).to_be_visible()
        menu.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def test_operation_from_hq_to_stores_and_back(
    new_page: NewPage, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    publish_demo(personas)
    add_contacts(personas.store_a, 3, kind="customer")  # the campaign must reach somebody to be submitted
    phone: ViewportSize = PHONE

    # HQ creates the operation
    hq = new_page()
    log_in(hq, "hq_marketer")
    _main_nav(hq, "Campaigns")
    hq.get_by_role("link", name="New operation").first.click()
    field(hq, "Name").fill("Foire aux vins")
    field(hq, "Visible to stores from").fill(_day(-1).strftime("%Y-%m-%d"))
    field(hq, "Subscription deadline").fill(_day(3).strftime("%Y-%m-%dT18:00"))
    field(hq, "Personalisation deadline").fill(_day(5).strftime("%Y-%m-%dT18:00"))
    field(hq, "In market from").fill(_day(7).strftime("%Y-%m-%d"))
    field(hq, "In market until").fill(_day(20).strftime("%Y-%m-%d"))
    field(hq, "Participation").select_option("opt_in")
    field(hq, "Approval").select_option("regional")
    hq.get_by_role("button", name="Create").click()
    expect(hq.get_by_role("heading", level=1)).to_contain_text("Foire aux vins")

    field(hq, "Name").fill("Email teaser")
    field(hq, "Template").select_option(label="Lettre (Email)")
    field(hq, "Send date and time").fill(_day(8).strftime("%Y-%m-%dT10:00"))
    hq.get_by_role("button", name="Add the wave").click()
    expect(hq.get_by_role("heading", level=1)).to_contain_text("Head office's default content")
    field(hq, "Titre").fill("La foire aux vins commence")
    hq.get_by_role("button", name="Save the defaults").click()
    expect(hq.get_by_role("cell", name="Email teaser")).to_be_visible()
    hq.get_by_role("link", name="Publish to the stores").click()
    expect(hq.get_by_test_id("consequence")).to_have_text("Publishes to 3 stores.")  # asked first
    hq.get_by_role("button", name="Publish to the stores").click()
    expect(hq.get_by_text("The operation is open to its stores.")).to_be_visible()
    expect(hq.get_by_test_id("participation-counts")).to_contain_text("0 of 3 stores take part")

    # Store A, on a phone, takes part and personalises
    store_a = new_page(phone, is_mobile=True)
    log_in(store_a, "store_a")
    _main_nav(store_a, "Campaigns")
    store_a.get_by_role("link", name="Foire aux vins").first.click()
    store_a.get_by_role("button", name="Take part").click()
    expect(store_a.get_by_test_id("participation")).to_have_text("Taking part")
    store_a.get_by_role("link", name="Personalise").click()
    expect(field(store_a, "Titre")).to_have_value("La foire aux vins commence")
    field(store_a, "Titre").fill("La foire aux vins à Lille")
    # the preview follows the typing (htmx), before anything is saved
    expect(store_a.get_by_text("La foire aux vins à Lille — Magasin A")).to_be_visible()
    expect(store_a.get_by_test_id("simulation")).to_be_visible()
    screenshot(store_a, "campaigns_store_personalise_phone")
    store_a.get_by_role("button", name="Save and submit").click()
    expect(store_a.get_by_test_id("state")).to_have_text("Awaiting approval")

    # The regional manager approves the proof from the queue
    region = new_page()
    log_in(region, "regional")
    _main_nav(region, "Campaigns")
    region.get_by_test_id("queue").click()
    expect(region.get_by_role("heading", level=1)).to_have_text("Proofs waiting for you")
    region.get_by_role("link", name=re.compile("Foire aux vins")).click()
    expect(region.frame_locator("iframe.proof").get_by_text("La foire aux vins à Lille")).to_be_visible()
    region.get_by_role("button", name="Approve").click()
    expect(region.get_by_test_id("state")).to_have_text("Scheduled")

    # Store B opts out
    store_b = new_page(phone, is_mobile=True)
    log_in(store_b, "store_b")
    _main_nav(store_b, "Campaigns")
    store_b.get_by_role("link", name="Foire aux vins").first.click()
    store_b.get_by_role("button", name="Opt out").click()
    expect(store_b.get_by_test_id("participation")).to_have_text("Opted out")

    # HQ sees participation and the calendar
    hq.reload()
    expect(hq.get_by_test_id("participation-counts")).to_contain_text("1 of 3 stores take part")
    expect(hq.get_by_test_id("participation-counts")).to_contain_text("1 opted out")
    table = hq.get_by_test_id("participation-table")
    expect(table.get_by_role("row", name=re.compile("Magasin A .*Taking part"))).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("Magasin B .*Opted out"))).to_be_visible()
    screenshot(hq, "campaigns_hq_participation")
    hq.get_by_role("link", name="Calendar").first.click()
    field(hq, "Date").fill(_day(8).strftime("%Y-%m-%d"))
    hq.get_by_role("button", name="Show").click()
    expect(hq.get_by_test_id("calendar").get_by_role("link", name="Foire aux vins").first).to_be_visible()
    screenshot(hq, "campaigns_calendar")
