"""Actions that cannot be undone ask first: the GET of the action's address shows what will happen,
counted by the server, and changes nothing; the POST does it. The buttons that lead there sit apart
from the primary actions (a danger zone at the bottom of the page)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from glocal.campaigns.models import Campaign, Operation, Participation
from glocal.campaigns.states import State
from glocal.core.confirm import count_text

from .conftest import make_operation, publish

pytestmark = pytest.mark.django_db


def test_publish_asks_first_with_the_number_of_stores(network, templates, login):
    op = make_operation(network, templates)
    hq = login(network, "hq_marketer")
    page = hq.get(reverse("campaigns:operation", args=[op.pk])).content.decode()
    url = reverse("campaigns:operation_publish", args=[op.pk])
    assert f'href="{url}"' in page  # a link to the confirmation, no form that publishes at once
    r = hq.get(url)
    assert r.status_code == 200
    text = r.content.decode()
    assert "Publishes to 3 stores." in text and 'method="post"' in text
    assert Operation.unscoped.get(pk=op.pk).status == Operation.Status.DRAFT  # nothing changed
    assert not Participation.unscoped.filter(operation=op).exists()
    r = hq.post(url)
    assert r.status_code == 302
    assert Operation.unscoped.get(pk=op.pk).status == Operation.Status.PUBLISHED
    # published: the confirmation says it cannot be done again and offers no button
    again = hq.get(url).content.decode()
    assert 'data-testid="confirm-refused"' in again and "Publishes to" not in again


def test_cancel_operation_asks_first_with_the_number_of_store_campaigns(network, templates, contacts, login):
    op = publish(network, make_operation(network, templates, participation=Operation.Mode.MANDATORY))
    assert Campaign.unscoped.filter(operation=op).count() == 3
    hq = login(network, "hq_marketer")
    page = hq.get(reverse("campaigns:operation", args=[op.pk])).content.decode()
    url = reverse("campaigns:operation_cancel", args=[op.pk])
    # the button is in the danger zone, after the participation table
    assert page.index('data-testid="danger-zone"') > page.index('data-testid="participation-table"')
    assert f'href="{url}"' in page
    r = hq.get(url)
    assert r.status_code == 200 and "Cancels 3 store campaigns." in r.content.decode()
    assert not Campaign.unscoped.filter(operation=op, state=State.CANCELLED).exists()
    r = hq.post(url, {"comment": "Stock épuisé"})
    assert r.status_code == 302
    assert set(Campaign.unscoped.filter(operation=op).values_list("state", flat=True)) == {State.CANCELLED}


def test_cancel_campaign_is_in_a_danger_zone_and_asks_first(network, templates, contacts, login):
    op = publish(network, make_operation(network, templates, participation=Operation.Mode.MANDATORY))
    campaign = Campaign.unscoped.get(operation=op, entity=network.store_a)
    store = login(network, "store_a")
    page = store.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    url = reverse("campaigns:cancel", args=[campaign.pk])
    personalise = page.index(reverse("campaigns:edit", args=[campaign.pk]))
    zone = page.index('data-testid="danger-zone"')
    assert personalise < page.index('id="decide-h"' if 'id="decide-h"' in page else "<h2>") < zone
    assert page.index(f'href="{url}"') > zone
    r = store.get(url)
    assert r.status_code == 200 and "Cancels the campaign of Magasin A." in r.content.decode()
    assert Campaign.unscoped.get(pk=campaign.pk).state != State.CANCELLED
    store.post(url)
    assert Campaign.unscoped.get(pk=campaign.pk).state == State.CANCELLED


def test_counts_are_grouped_as_each_language_writes_them():
    with translation.override("en"):
        assert count_text(1240) == "1,240"
    with translation.override("fr"):
        assert count_text(1240) in ("1\u202f240", "1\xa0240", "1 240")
