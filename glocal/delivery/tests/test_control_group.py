"""Control groups at launch: a random share of each campaign's final audience (after consent, address,
opposition, removals and marketing pressure) is held out, recorded as an exclusion "control group" and
never messaged; the same contacts on a re-run; the store's share only within HQ's range."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from glocal.campaigns import services as campaign_services
from glocal.campaigns.forms import ScheduleForm
from glocal.campaigns.models import Campaign, CampaignSettings
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts, in_days
from glocal.core.scope import activate
from glocal.delivery import launch
from glocal.delivery.models import DeliverySettings, Exclusion, Message

pytestmark = pytest.mark.django_db


def scheduled(network, template, *, holdout=None, name="Réouverture"):
    """Store A's email campaign, approved (policy: none), due now; ``holdout``: the store's share."""
    with activate(network.scope("store_a")):
        template.approval_policy = "none"
        template.save(update_fields=["approval_policy"])
        c = campaign_services.campaign_create(entity=network.store_a, template=template, name=name)
        campaign_services.campaign_update(
            campaign=c,
            values={"headline": "Nous rouvrons !", "body": "<p>Venez nous voir</p>"},
            scheduled_at=in_days(3),
            holdout_percent=holdout,
        )
        campaign_services.campaign_submit(campaign=Campaign.objects.get(pk=c.pk))
    Campaign.unscoped.filter(pk=c.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    campaign = Campaign.unscoped.get(pk=c.pk)
    assert campaign.state == State.SCHEDULED
    return campaign


def held_out(campaign) -> set[int]:
    return set(
        Exclusion.unscoped.filter(campaign=campaign, reason=Exclusion.Reason.CONTROL).values_list(
            "contact_id", flat=True
        )
    )


def messaged(campaign) -> set[int]:
    return set(Message.unscoped.filter(campaign=campaign).values_list("contact_id", flat=True))


def test_a_new_campaign_holds_out_hqs_default_five_percent_rounded_down(network, templates):
    # given 39 reachable contacts, 3 without consent, and a campaign with the organisation's default
    people = add_contacts(network.store_a, 39)
    add_contacts(network.store_a, 3, consent="opt_out", prefix="n")
    campaign = scheduled(network, templates.email)
    assert campaign.holdout_percent == 5
    # when it launches
    launch.launch_due()
    # then floor(39 × 5 / 100) = 1 contact of the final audience is held out, and never messaged
    control = held_out(campaign)
    assert len(control) == 1
    assert control <= {p.pk for p in people}
    assert messaged(campaign) == {p.pk for p in people} - control
    # and the store reads why, with the share, in its language
    exclusion = Exclusion.unscoped.get(campaign=campaign, reason=Exclusion.Reason.CONTROL)
    with translation.override("en"):
        assert "Control group: 5 %" in exclusion.explanation()
    with translation.override("fr"):
        assert "Groupe témoin" in exclusion.explanation()


def test_the_store_share_is_drawn_after_pressure_and_the_same_on_a_rerun(network, templates):
    # given 50 contacts, a campaign holding out 10 %
    add_contacts(network.store_a, 50)
    campaign = scheduled(network, templates.email, holdout=10)
    # when a launch is rolled back, then runs again
    with pytest.raises(RuntimeError), transaction.atomic():
        launch.launch_due()
        first = held_out(campaign)
        raise RuntimeError("crash after the launch")
    assert held_out(campaign) == set() and messaged(campaign) == set()
    launch.launch_due()
    # then exactly floor(50 × 10 / 100) = 5 are held out, the same five both times, none messaged
    second = held_out(campaign)
    assert len(second) == 5 and second == first
    assert len(messaged(campaign)) == 45 and not second & messaged(campaign)


def test_hold_outs_use_up_no_marketing_pressure(network, templates):
    # given a campaign that held out 10 % of 50 contacts, then HQ's cap "1 email a week"
    people = add_contacts(network.store_a, 50)
    first = scheduled(network, templates.email, holdout=10, name="Premier")
    launch.launch_due()
    control = held_out(first)
    second = scheduled(network, templates.email, holdout=0, name="Second")
    DeliverySettings.unscoped.create(
        organisation=network.org, caps=[{"limit": 1, "days": 7, "channel": "email"}]
    )
    # when a second campaign launches the same week
    launch.launch_due()
    # then only the first campaign's messaged contacts are capped: the control group gets the second one
    assert messaged(second) == control
    capped = Exclusion.unscoped.filter(campaign=second, reason=Exclusion.Reason.PRESSURE)
    assert set(capped.values_list("contact_id", flat=True)) == {p.pk for p in people} - control


def test_a_store_may_choose_its_share_only_within_hqs_range(network, templates):
    CampaignSettings.unscoped.create(organisation=network.org, holdout_min=2, holdout_max=15)
    with activate(network.scope("store_a")):
        c = campaign_services.campaign_create(entity=network.store_a, template=templates.email)
        # the service refuses, naming the range
        with pytest.raises(ValidationError) as refused:
            campaign_services.campaign_update(campaign=c, holdout_percent=30)
        assert "between 2 % and 15 %" in str(refused.value)
        with pytest.raises(ValidationError):
            campaign_services.campaign_update(campaign=c, holdout_percent=1)
        campaign_services.campaign_update(campaign=c, holdout_percent=15)
    assert Campaign.unscoped.get(pk=c.pk).holdout_percent == 15
    # and so does the editor's form, in French too
    with translation.override("fr"):
        form = ScheduleForm({"name": "x", "holdout_percent": "16"}, holdout_range=(2, 15))
        assert not form.is_valid()
        assert "entre 2\u00a0% et 15\u00a0%" in form.errors["holdout_percent"][0]


def test_hq_range_must_hold_its_default_and_an_operation_overrides_it(network):
    with activate(network.scope("hq_admin")):
        with pytest.raises(ValidationError):
            campaign_services.settings_save(changes={"holdout_default": 25, "holdout_max": 20})
        saved = campaign_services.settings_save(changes={"holdout_default": 8})
    assert saved.holdout_default == 8
    from glocal.campaigns.models import Operation

    assert campaign_services.default_holdout(saved) == 8
    assert campaign_services.default_holdout(saved, Operation(holdout_percent=12)) == 12
    assert campaign_services.default_holdout(saved, Operation(holdout_percent=None)) == 8


def test_the_draw_is_seeded_by_the_campaign():
    pool = set(range(1, 1001))
    assert launch.draw_control(7, pool, 5) == launch.draw_control(7, sorted(pool, reverse=True), 5)
    assert len(launch.draw_control(7, pool, 5)) == 50
    assert launch.draw_control(7, pool, 5) != launch.draw_control(8, pool, 5)
    assert launch.draw_control(7, set(range(19)), 5) == frozenset()  # floor(19 × 5 / 100) = 0


def test_the_pages_offer_the_share(network, templates, login):
    with activate(network.scope("store_a")):
        c = campaign_services.campaign_create(entity=network.store_a, template=templates.email)
    edit = login(network, "store_a").get(reverse("campaigns:edit", args=[c.pk])).content.decode()
    assert 'name="holdout_percent"' in edit and 'value="5"' in edit and 'max="20"' in edit
    settings_page = login(network, "hq_admin").get(reverse("campaigns:settings")).content.decode()
    assert 'name="holdout_default"' in settings_page and 'name="holdout_max"' in settings_page
    new_operation = login(network, "hq_admin").get(reverse("campaigns:operation_new")).content.decode()
    assert 'name="holdout_percent"' in new_operation
