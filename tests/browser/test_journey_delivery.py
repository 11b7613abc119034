"""Delivery in a real browser: a store's campaign goes out to a real SMTP catcher; the store manager, on
a phone, finds the message as received and the campaign's report (who was excluded and why); the
recipient unsubscribes in one click from the link in the message, without logging in."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import Network
from glocal.audience.models import Contact
from glocal.campaigns.tests.conftest import add_contacts, demo_templates
from glocal.delivery import capture, dispatch, launch, tracking
from glocal.delivery.tests.test_engine import scheduled_campaign

from .conftest import PHONE

LogIn = Callable[[Page, str], None]
NewPage = Callable[..., Page]
Screenshot = Callable[[Page, str], None]

pytestmark = pytest.mark.browser


@pytest.fixture
def catcher(settings, tmp_path: Path, live_server):
    controller, port = capture.start(tmp_path / "mailbox")
    settings.GLOCAL_MAILBOX_DIR = tmp_path / "mailbox"
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", port
    settings.GLOCAL_PUBLIC_URL = live_server.url
    try:
        yield tmp_path / "mailbox"
    finally:
        controller.stop()


def test_a_campaign_goes_out_and_the_store_sees_what_was_sent_and_why(
    new_page: NewPage, personas: Network, log_in: LogIn, catcher: Path, screenshot: Screenshot
) -> None:
    # given store A's campaign, due now, for 3 consenting customers and 1 without consent
    templates = demo_templates(personas)
    add_contacts(personas.store_a, 3, first_name="Camille")
    add_contacts(personas.store_a, 1, consent="", prefix="silent")
    campaign = scheduled_campaign(personas, templates.email, name="Bienvenue chez nous")
    # when the engine launches it and the sender delivers it to the SMTP catcher
    launch.launch_due()
    dispatch.drain("journey-sender")
    dispatch.finish_campaigns()
    captured = sorted(catcher.glob("*.eml"))
    assert len(captured) == 3

    # then the store manager, on a phone, finds the messages as received
    phone = new_page(PHONE, is_mobile=True)
    log_in(phone, "store_a")
    phone.goto("/delivery/messages/")
    rows = phone.get_by_test_id("messages").locator("tbody tr")
    expect(rows).to_have_count(3)
    rows.first.get_by_test_id("message-link").click()
    expect(phone.get_by_test_id("status")).to_contain_text("Sent")
    frame = phone.frame_locator("[data-testid=received]")
    expect(frame.locator("body")).to_contain_text(personas.store_a.name)
    screenshot(phone, "delivery-message-phone")
    # and the campaign's report says who was not addressed, and why
    phone.goto(f"/campaigns/{campaign.pk}/")
    phone.get_by_test_id("delivery-link").click()
    expect(phone.get_by_test_id("statuses")).to_contain_text("Sent")
    expect(phone.locator("[data-status=sent]")).to_have_text("3")
    expect(phone.get_by_test_id("opened")).to_have_text("0")  # the store looking is not an open
    expect(phone.get_by_test_id("reasons")).to_contain_text("No consent on this channel")
    expect(phone.get_by_test_id("exclusions")).to_contain_text("silent0")
    screenshot(phone, "delivery-report-phone")

    # the recipient opens the unsubscribe link of their message (no login, no cookie)
    raw = captured[0].read_text()
    match = re.search(r"List-Unsubscribe: <(http://[^>]+/u/[^>]+)>", raw)
    assert match is not None
    recipient = new_page(PHONE, is_mobile=True)
    recipient.goto(match.group(1))
    # the page speaks the recipient's language (a French store's customer), whatever the browser's
    expect(recipient.get_by_role("heading", level=1)).to_have_text("Vos préférences")
    # the Message-ID carries the message's signed reference: <g<campaign>-<contact>.<16 hex MAC>@domain>
    reference = re.search(r"Message-ID: <(g\d+-\d+\.[0-9a-f]{16})@", raw)
    assert reference is not None
    stable_id = tracking.read_ref(reference.group(1))
    assert stable_id is not None  # a genuine reference, signed by this platform
    contact_id = int(stable_id.rpartition("-")[2])
    assert Contact.unscoped.get(pk=contact_id).consent_email == "opt_in"  # the GET changed nothing
    recipient.get_by_role("button", name="Me désinscrire de ces e-mails").click()
    expect(recipient.get_by_test_id("unsubscribed")).to_be_visible()
    assert Contact.unscoped.get(pk=contact_id).consent_email == "opt_out"
    screenshot(recipient, "delivery-unsubscribed")
