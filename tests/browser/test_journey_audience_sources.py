"""Audience sources in a real browser: the store manager picks HQ's shared segment, or the prospect list
rented for the campaign, as the audience in the campaign editor, sees the live count, sets the send
date and submits; the launch then addresses exactly the segment's consenting members of the store, or
the rented list's rows only (never the store's customers), and the delivery report shows the count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import Network
from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts, demo_templates
from glocal.core.scope import activate
from glocal.delivery import launch
from glocal.delivery.models import Message
from glocal.targeting import prospects, segments
from glocal.targeting.models import ProspectList

from .conftest import field

LogIn = Callable[[Page, str], None]
Screenshot = Callable[[Page, str], None]

pytestmark = pytest.mark.browser


def _draft(personas: Network, name: str) -> Campaign:
    """Store A's local email campaign, in draft with its content, no audience nor date yet."""
    template = demo_templates(personas).email
    with activate(personas.scope("store_a")):
        template.approval_policy = "none"
        template.save(update_fields=["approval_policy"])
        campaign = campaign_services.campaign_create(entity=personas.store_a, template=template, name=name)
        campaign_services.campaign_update(
            campaign=campaign, values={"headline": "Nous rouvrons !", "body": "<p>Venez nous voir</p>"}
        )
    return Campaign.unscoped.get(pk=campaign.pk)


def _pick_audience_and_submit(page: Page, campaign: Campaign, source: str, recipients: str) -> None:
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Prepare the campaign")
    expect(page.get_by_test_id("simulation")).to_be_visible()
    field(page, "Segment or rented list").select_option(source)
    # the live count follows the choice (htmx), before anything is saved
    expect(page.get_by_test_id("recipients")).to_have_text(recipients)
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    day = timezone.localdate() + dt.timedelta(days=3)
    field(page, "Send date").fill(day.strftime("%Y-%m-%d"))
    field(page, "Time").fill("10:00")
    page.get_by_role("button", name="Save and submit").click()
    expect(page.get_by_test_id("state")).to_have_text("Scheduled")


def _launch_now(campaign: Campaign) -> Campaign:
    Campaign.unscoped.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    launch.launch_due()
    return Campaign.unscoped.get(pk=campaign.pk)


def test_a_store_targets_an_hq_segment_in_the_editor_and_reaches_its_consenting_members(
    page: Page, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    # given HQ's segment of VIP contacts, shared to the network
    vip = add_contacts(personas.store_a, 3, prefix="vip", tags="|vip|")
    refused = add_contacts(personas.store_a, 2, prefix="novip", tags="|vip|", consent="opt_out")
    add_contacts(personas.store_a, 4, prefix="other")
    add_contacts(personas.store_b, 2, prefix="bvip", tags="|vip|")  # another store's: never addressed
    with activate(personas.scope("hq_marketer")):
        segment = segments.segment_save(name="VIP", criteria=[{"field": "tag", "op": "has", "value": "vip"}])
    campaign = _draft(personas, "Soirée VIP")

    # the store manager picks it in the editor, sees the live count, dates and submits
    log_in(page, "store_a")
    _pick_audience_and_submit(page, campaign, f"segment:{segment.pk}", "3 recipients")
    screenshot(page, "audience-segment-submitted")
    campaign = Campaign.unscoped.get(pk=campaign.pk)
    assert campaign.state == State.SCHEDULED
    assert campaign.audience_criteria == {"segment": segment.pk}

    # the launch addresses exactly the segment's consenting members of store A
    _launch_now(campaign)
    sent = set(Message.unscoped.filter(campaign=campaign).values_list("contact_id", flat=True))
    with activate(personas.scope("store_a")):
        members = set(
            segments.segment_contacts(segment.criteria, channel="email").values_list("pk", flat=True)
        )
    assert sent == members == {c.pk for c in vip}
    assert not sent & {c.pk for c in refused}

    # and the campaign's delivery report shows the count
    page.goto(f"/campaigns/{campaign.pk}/")
    page.get_by_test_id("delivery-link").click()
    expect(page.locator("[data-status=queued]")).to_have_text("3")
    expect(page.get_by_test_id("reasons")).to_contain_text("No consent on this channel")
    screenshot(page, "audience-segment-report")


CSV = b"email;first_name\nrent1@example.test;Ana\nrent2@example.test;Bo\nrent3@example.test;Cy\n"


def test_a_store_targets_its_rented_list_in_the_editor_and_reaches_its_rows_only(
    page: Page, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    # given store A's customers and a prospect list rented (opt-in) for the campaign
    add_contacts(personas.store_a, 3, prefix="customer")
    campaign = _draft(personas, "Nouveaux voisins")
    with activate(personas.scope("store_a")):
        plist, report = prospects.upload_list(
            entity=personas.store_a,
            name="Location printemps",
            campaign_ref="",
            data=CSV,
            purge_after=timezone.localdate() + dt.timedelta(days=30),
            campaign=Campaign.objects.get(pk=campaign.pk),
            consent_basis=ProspectList.ConsentBasis.OPT_IN,
        )
    assert plist is not None and not report.errors

    # the store manager picks the list in the editor and submits
    log_in(page, "store_a")
    _pick_audience_and_submit(page, campaign, f"prospect_list:{plist.pk}", "3 recipients")
    screenshot(page, "audience-rented-submitted")
    campaign = Campaign.unscoped.get(pk=campaign.pk)
    assert campaign.audience_criteria == {"prospect_list": plist.pk}

    # the launch addresses the list's rows only, never the store's customers
    _launch_now(campaign)
    rows = set(Message.unscoped.filter(campaign=campaign).values_list("contact_id", "to_address"))
    assert rows == {(None, "rent1@example.test"), (None, "rent2@example.test"), (None, "rent3@example.test")}

    page.goto(f"/campaigns/{campaign.pk}/")
    page.get_by_test_id("delivery-link").click()
    expect(page.locator("[data-status=queued]")).to_have_text("3")
    expect(page.get_by_test_id("rented-list")).to_contain_text("Location printemps")
    screenshot(page, "audience-rented-report")
