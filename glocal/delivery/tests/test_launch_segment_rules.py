"""The launch addresses what the segment builder counted: a store's segment on its catchment area and an
age threshold is sent to exactly the contacts the live count gave (the same compiled Q), and HQ's
required criteria bind at the launch too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from glocal.campaigns import audience as campaign_audience
from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts
from glocal.core.scope import activate
from glocal.delivery import launch
from glocal.delivery.models import Message
from glocal.delivery.tests.test_engine import scheduled_campaign
from glocal.network.models import Entity
from glocal.targeting import segments

pytestmark = pytest.mark.django_db

ADULTS_IN_AREA = [
    {"field": "catchment", "op": "eq", "value": True},
    {"field": "age", "op": "gte", "value": 18},
]


def _born(years: int) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def _target(network, campaign, segment):
    with activate(network.scope("store_a")):
        c = Campaign.objects.get(pk=campaign.pk)
        campaign_services.campaign_update(campaign=c, criteria={"segment": segment.pk})
        campaign_services.campaign_submit(campaign=Campaign.objects.get(pk=c.pk))
    Campaign.unscoped.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    return Campaign.unscoped.get(pk=campaign.pk)


@pytest.fixture
def area(network):
    Entity.unscoped.filter(pk=network.store_a.pk).update(catchment_postcodes=["59000", "59800"])
    with activate(network.scope("hq_admin")):
        segments.policy_update(
            allowed_fields=["catchment", "age"], allowed_operators=["eq", "gte"], max_criteria=3
        )
    return {
        "adults_in": add_contacts(network.store_a, 3, prefix="in", postcode="59000", birth_date=_born(30)),
        "minor_in": add_contacts(network.store_a, 1, prefix="minor", postcode="59800", birth_date=_born(15)),
        "adult_out": add_contacts(network.store_a, 2, prefix="out", postcode="62000", birth_date=_born(40)),
        "unknown_age": add_contacts(network.store_a, 2, prefix="noage", postcode="59000"),
        "no_postcode": add_contacts(network.store_a, 1, prefix="nopc", birth_date=_born(30)),
    }


def test_the_launch_sends_to_what_the_live_count_counted(network, templates, area):
    with activate(network.scope("store_a")):
        segment = segments.segment_save(name="Adultes du quartier", criteria=ADULTS_IN_AREA, channel="email")
        counted = segments.segment_counts_by_store(ADULTS_IN_AREA, "email")
        left_out = segments.segment_left_out(ADULTS_IN_AREA, "email")
    assert counted == {network.store_a.pk: 3}
    assert left_out == {"birth_date": 2, "postcode": 1}
    campaign = scheduled_campaign(network, templates.email)
    with activate(network.scope("store_a")):
        offered = campaign_audience.source_choices(network.store_a, campaign)
    assert [(c.pk, c.count) for c in offered] == [(segment.pk, 3)]
    campaign = _target(network, campaign, segment)
    [report] = launch.launch_due()
    assert report.queued == 3
    sent = set(Message.unscoped.filter(campaign=campaign).values_list("contact_id", flat=True))
    assert sent == {c.pk for c in area["adults_in"]}


def test_a_segment_without_hqs_required_age_is_not_launched(network, templates, area):
    with activate(network.scope("store_a")):
        segment = segments.segment_save(
            name="Quartier", criteria=[{"field": "catchment", "op": "eq", "value": True}]
        )
    campaign = _target(network, scheduled_campaign(network, templates.email), segment)
    with activate(network.scope("hq_marketer")):
        segments.policy_update(
            allowed_fields=["catchment", "age"],
            allowed_operators=["eq", "gte"],
            max_criteria=3,
            required_criteria=[{"field": "age", "op": "gte", "value": 18}],
        )
    [report] = launch.launch_due()
    assert report.queued == 0 and "Quartier" in report.refused
    campaign.refresh_from_db()
    assert campaign.state == State.DRAFT
    assert not Message.unscoped.filter(campaign=campaign).exists()
