"""Simulation before submission: who is excluded and why, including marketing pressure computed by
glocal.delivery.pressure against the store's other campaigns; approval reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from glocal.audience.models import Suppression, hash_value
from glocal.campaigns import selectors, services
from glocal.campaigns.models import Campaign
from glocal.core.scope import activate

from .conftest import add_contacts, in_days

pytestmark = pytest.mark.django_db


def sms_campaign(network, templates, when: dt.datetime, name: str) -> Campaign:
    with activate(network.scope("store_a")):
        c = services.campaign_create(entity=network.store_a, template=templates.sms, name=name)
        services.campaign_update(campaign=c, values={"message": "Promo ce week-end"}, scheduled_at=when)
        return Campaign.objects.get(pk=c.pk)


def test_exclusions_by_reason_and_pressure(network, templates):
    consented = add_contacts(network.store_a, 4)
    add_contacts(network.store_a, 2, consent="opt_out", prefix="out")
    Suppression.unscoped.create(
        organisation=network.org, channel="sms", value_hash=hash_value(consented[0].mobile), reason="opt_out"
    )
    first = sms_campaign(network, templates, in_days(5), "Premier SMS")
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=first)  # no approval: scheduled
        sim = selectors.simulate(first, with_pressure=False)
    assert (sim.matching, sim.no_consent, sim.suppressed, sim.recipients) == (6, 2, 1, 3)
    # a second SMS two days later: the SMS cap (1 per 7 days) excludes the same 3 people
    second = sms_campaign(network, templates, in_days(7), "Second SMS")
    with activate(network.scope("store_a")):
        sim = selectors.simulate(second)
    assert (sim.pressure, sim.recipients) == (3, 0)
    assert "Premier SMS" in sim.pressure_reasons[0][0] and sim.pressure_reasons[0][1] == 3
    # ten days later: outside the window, nobody is excluded for pressure
    third = sms_campaign(network, templates, in_days(16), "Troisième SMS")
    with activate(network.scope("store_a")):
        assert selectors.simulate(third).pressure == 0


def test_approval_reminder_once(network, templates, contacts):
    with activate(network.scope("store_a")):
        templates.email.approval_policy = "regional"
        templates.email.save(update_fields=["approval_policy"])
        c = services.campaign_create(entity=network.store_a, template=templates.email)
        services.campaign_update(campaign=c, values={"headline": "Vite"}, scheduled_at=in_days(1))
        services.campaign_submit(campaign=c)
    mail.outbox.clear()
    with activate(services.system_scope(network.org.pk)):
        assert services.send_reminders()["approval"] == 1
        assert services.send_reminders()["approval"] == 0
    assert [m.to for m in mail.outbox] == [["regional@example.test"]]
