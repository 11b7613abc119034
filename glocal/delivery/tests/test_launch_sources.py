"""Segments and rented lists reach campaigns: the launch sends to exactly a segment's consenting
members, refuses a store's segment HQ's tightened guardrails no longer allow, and a rented list's
campaign sends to the list's rows only (not contacts), counted apart in the report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from glocal.audience.models import Suppression, hash_value
from glocal.campaigns import audience as campaign_audience
from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign, CampaignTransition
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts
from glocal.core.scope import activate, system_scope
from glocal.delivery import launch
from glocal.delivery.models import Exclusion, Message
from glocal.delivery.selectors import rented_list_line
from glocal.delivery.tests.test_engine import scheduled_campaign
from glocal.targeting import prospects, segments
from glocal.targeting.models import ProspectList

pytestmark = pytest.mark.django_db


def _target(network, campaign, criteria, persona="store_a"):
    with activate(network.scope(persona)):
        c = Campaign.objects.get(pk=campaign.pk)
        campaign_services.campaign_update(campaign=c, criteria=criteria)
        campaign_services.campaign_submit(campaign=Campaign.objects.get(pk=c.pk))
    Campaign.unscoped.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    return Campaign.unscoped.get(pk=campaign.pk)


def test_a_store_targets_an_hq_segment_and_sends_to_its_consenting_members_only(network, templates):
    vip = add_contacts(network.store_a, 3, prefix="vip", tags="|vip|")
    refused = add_contacts(network.store_a, 2, prefix="no", tags="|vip|", consent="opt_out")
    add_contacts(network.store_a, 4, prefix="other")
    add_contacts(network.store_b, 2, prefix="bvip", tags="|vip|")  # another store's: never addressed
    with activate(network.scope("hq_marketer")):
        segment = segments.segment_save(name="VIP", criteria=[{"field": "tag", "op": "has", "value": "vip"}])
    campaign = scheduled_campaign(network, templates.email)
    with activate(network.scope("store_a")):
        offered = campaign_audience.source_choices(network.store_a, campaign)
        assert [(c.kind, c.pk, c.count) for c in offered] == [("segment", segment.pk, 5)]
    campaign = _target(network, campaign, {"segment": segment.pk})
    assert campaign.state == State.SCHEDULED
    with activate(network.scope("store_a")):
        sim = campaign_selectors.simulate(campaign, with_pressure=False)
    assert (sim.matching, sim.no_consent, sim.recipients) == (5, 2, 3)

    [report] = launch.launch_due()
    assert report.queued == 3
    sent = set(Message.unscoped.filter(campaign=campaign).values_list("contact_id", flat=True))
    members = {c.pk for c in vip + refused}
    excluded = set(Exclusion.unscoped.filter(campaign=campaign).values_list("contact_id", flat=True))
    assert sent == members - excluded == {c.pk for c in vip}
    assert excluded == {c.pk for c in refused}


def test_a_store_segment_hq_now_refuses_is_not_launched_and_says_why(network, templates):
    add_contacts(network.store_a, 2, tags="|vip|")
    with activate(network.scope("store_a")):
        segment = segments.segment_save(
            name="Mes VIP", criteria=[{"field": "tag", "op": "has", "value": "vip"}]
        )
    campaign = _target(network, scheduled_campaign(network, templates.email), {"segment": segment.pk})
    with activate(network.scope("hq_admin")):
        segments.policy_update(allowed_fields=["kind"], allowed_operators=["eq"], max_criteria=3)
    [report] = launch.launch_due()
    assert report.queued == 0 and "Mes VIP" in report.refused
    campaign.refresh_from_db()
    assert campaign.state == State.DRAFT
    assert not Message.unscoped.filter(campaign=campaign).exists()
    why = CampaignTransition.unscoped.filter(campaign=campaign).order_by("pk").last()
    assert why is not None and "Mes VIP" in why.comment


def test_another_stores_segment_cannot_be_targeted(network, templates):
    with activate(network.scope("store_b")):
        segment = segments.segment_save(
            name="B", criteria=[{"field": "kind", "op": "eq", "value": "customer"}]
        )
    add_contacts(network.store_a, 1)
    campaign = scheduled_campaign(network, templates.email)
    with activate(network.scope("store_a")), pytest.raises(ValidationError):
        campaign_services.campaign_update(
            campaign=Campaign.objects.get(pk=campaign.pk), criteria={"segment": segment.pk}
        )


CSV = b"email;first_name\nrent1@example.test;Ana\nrent2@example.test;Bo\nopposed@example.test;Cy\n"


def test_a_rented_lists_campaign_sends_to_the_list_only_and_the_list_is_purged_after(network, templates):
    add_contacts(network.store_a, 3)  # the store's customers: not addressed by the list's campaign
    campaign = scheduled_campaign(network, templates.email)
    with activate(network.scope("store_a")):
        plist, report = prospects.upload_list(
            entity=network.store_a, name="Location printemps", campaign_ref="", data=CSV,
            purge_after=timezone.localdate() + dt.timedelta(days=30),
            campaign=Campaign.objects.get(pk=campaign.pk),
            consent_basis=ProspectList.ConsentBasis.OPT_IN,
        )  # fmt: skip
        assert plist is not None and plist.row_count == 3
    # opposed after the upload: checked again at the launch
    Suppression.unscoped.create(
        organisation=network.org, channel="email", value_hash=hash_value("opposed@example.test")
    )
    campaign = _target(network, campaign, {"prospect_list": plist.pk})
    [launched] = launch.launch_due()
    rows = list(Message.unscoped.filter(campaign=campaign).values_list("contact_id", "to_address"))
    assert sorted(rows) == [(None, "rent1@example.test"), (None, "rent2@example.test")]
    assert launched.rented is not None and launched.rented[1:] == (2, 1)
    with activate(network.scope("store_a")), translation.override("fr"):
        assert (
            rented_list_line(campaign)
            == "Liste louée «\u00a0Location printemps\u00a0»\u00a0: 2 envoyés, 1 exclus"
        )
    # sent: the list is due for its purge
    with activate(system_scope(network.org.pk)):  # as the delivery engine does
        campaign_services.campaign_mark_sent(campaign=Campaign.unscoped.get(pk=campaign.pk), sent_count=2)
    with activate(network.scope("store_a")):
        assert prospects.purge_due_lists()["lists"] == 1
    plist.refresh_from_db()
    assert plist.status == ProspectList.Status.PURGED


def test_a_post_only_list_sends_no_email(network, templates):
    add_contacts(network.store_a, 1)
    campaign = scheduled_campaign(network, templates.email)
    with activate(network.scope("store_a")):
        plist, _r = prospects.upload_list(
            entity=network.store_a, name="Papier", campaign_ref="", data=CSV,
            purge_after=timezone.localdate() + dt.timedelta(days=30),
            campaign=Campaign.objects.get(pk=campaign.pk),
        )  # fmt: skip
    assert plist is not None
    with activate(network.scope("store_a")):
        c = Campaign.objects.get(pk=campaign.pk)
        campaign_services.campaign_update(campaign=c, criteria={"prospect_list": plist.pk})
        campaign = Campaign.objects.get(pk=campaign.pk)
        sim = campaign_selectors.simulate(campaign, with_pressure=False)
    assert (sim.matching, sim.no_consent, sim.recipients) == (3, 3, 0)


def test_a_rented_lists_recipient_can_object_and_lands_on_the_opposition_list(network, templates, client):
    """A rented list's message names no contact: its unsubscribe link (contact 0 + the message, signed)
    still works — the page in the store's language, and one click puts the address on the opposition
    list for the channel, so no later list or import reaches it."""
    from django.urls import reverse

    from glocal.delivery import tokens
    from glocal.delivery.models import MessageEvent

    campaign = _launched_rented_campaign(network, templates)
    message = Message.unscoped.filter(campaign=campaign, to_address="rent1@example.test").get()
    token = tokens.unsubscribe_token(
        contact_id=0, organisation_id=network.org.pk, channel="email", message_id=message.stable_id
    )
    url = reverse("recipient:unsubscribe", args=[token])
    page = client.get(url)
    assert page.status_code == 200 and page["Content-Language"] == "fr"
    opposed = Suppression.unscoped.filter(
        organisation=network.org, channel="email", value_hash=hash_value("rent1@example.test")
    )
    assert not opposed.exists()  # a GET (a link scanner) changes nothing
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 200  # a replay changes nothing more
    assert opposed.count() == 1
    events = MessageEvent.unscoped.filter(message=message, kind=MessageEvent.Kind.UNSUBSCRIBED)
    assert events.count() == 1
    # a token naming another organisation's message, or a contact's message as contact 0, is not found
    other = tokens.unsubscribe_token(
        contact_id=0, organisation_id=network.other_org.pk, channel="email", message_id=message.stable_id
    )
    assert client.get(reverse("recipient:unsubscribe", args=[other])).status_code == 404


def test_a_rented_lists_recipient_objects_by_the_mailto_address_too(network, templates):
    from glocal.delivery import inbound, tokens

    campaign = _launched_rented_campaign(network, templates)
    message = Message.unscoped.filter(campaign=campaign, to_address="rent2@example.test").get()
    to = f"{tokens.mailto_local_part(message.stable_id)}@mail.glocal.test"
    raw = f"From: rent2@example.test\r\nTo: {to}\r\nSubject: unsubscribe\r\n\r\n".encode()
    result = inbound.mailto_unsubscribe(raw)
    assert result is not None and result.recorded == ["unsubscribed"]
    assert Suppression.unscoped.filter(
        organisation=network.org, channel="email", value_hash=hash_value("rent2@example.test")
    ).exists()


def _launched_rented_campaign(network, templates) -> Campaign:
    """Store A's email campaign, scheduled with an audience, then retargeted to an opt-in rented list
    of CSV's rows and launched."""
    add_contacts(network.store_a, 1)
    campaign = scheduled_campaign(network, templates.email)
    with activate(network.scope("store_a")):
        plist, _report = prospects.upload_list(
            entity=network.store_a, name="Location", campaign_ref="", data=CSV,
            purge_after=timezone.localdate() + dt.timedelta(days=30),
            campaign=Campaign.objects.get(pk=campaign.pk),
            consent_basis=ProspectList.ConsentBasis.OPT_IN,
        )  # fmt: skip
    assert plist is not None
    campaign = _target(network, campaign, {"prospect_list": plist.pk})
    launch.launch_due()
    return campaign
