"""The calendar: an item is one bar across its days (per week), local campaigns show their store's full
name, conflicts are said in words; the conflicts of many campaigns cost a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from glocal.campaigns import selectors, services
from glocal.campaigns.models import Campaign, Operation
from glocal.campaigns.selectors import CalendarDay, CalendarItem
from glocal.core.scope import activate

from .conftest import in_days, make_operation, publish

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2030, 3, 4)


def _week(start: dt.date) -> list[CalendarDay]:
    return [CalendarDay(start + dt.timedelta(days=i), True, []) for i in range(7)]


def test_items_are_bars_packed_on_lines():
    weeks = [_week(MONDAY), _week(MONDAY + dt.timedelta(days=7))]
    fair = CalendarItem("operation", "Foire", MONDAY + dt.timedelta(days=2), MONDAY + dt.timedelta(days=9))
    one = CalendarItem("campaign", "Soldes", MONDAY + dt.timedelta(days=3), MONDAY + dt.timedelta(days=3))
    two = CalendarItem("campaign", "Rappel", MONDAY, MONDAY + dt.timedelta(days=1))
    first, second = selectors.week_rows(weeks, [fair, one, two])
    bars = {b.item.label: (b.column, b.span, b.lane, b.before, b.after) for b in first.bars}
    assert bars == {
        "Rappel": (1, 2, 0, False, False),  # Monday–Tuesday, first line
        "Foire": (3, 5, 0, False, True),  # Wednesday → Sunday on the same line, goes on next week
        "Soldes": (4, 1, 1, False, False),  # under the fair on Thursday
    }
    assert first.rows == 3  # the day numbers, then two lines
    assert [(b.item.label, b.column, b.span, b.before) for b in second.bars] == [("Foire", 1, 3, True)]


def test_the_month_shows_bars_full_store_names_and_conflicts_in_words(network, templates, contacts, login):
    op = publish(network, make_operation(network, templates, participation=Operation.Mode.MANDATORY))
    with activate(network.scope("store_a")):
        local = services.campaign_create(entity=network.store_a, template=templates.email, name="Soldes")
        services.campaign_update(campaign=local, scheduled_at=in_days(9))
    network.store_a.name = "Magasin A du centre commercial des Grands Boulevards de Lille"
    network.store_a.save(update_fields=["name"])
    page = (
        login(network, "hq_marketer")
        .get(reverse("campaigns:calendar"), {"date": in_days(9).strftime("%Y-%m-%d")})
        .content.decode()
    )
    assert "Magasin A du centre commercial des Grands Boulevards de Lille" in page  # in full
    assert "Conflicts with: the operation “Foire aux vins”." in page
    assert "⚠" not in page
    # the operation is one bar per week it covers (at most 3 in its 14 days), not a chip per day
    bars = page.count('data-testid="cal-operation"')
    assert 2 <= bars <= 3, bars
    assert 'style="grid-column: ' in page
    week = (
        login(network, "hq_marketer")
        .get(reverse("campaigns:calendar"), {"view": "week", "date": in_days(9).strftime("%Y-%m-%d")})
        .content.decode()
    )
    assert week.count('data-testid="cal-operation"') == 1
    assert op.name in week


def test_conflicts_of_many_campaigns_cost_a_fixed_number_of_queries(network, templates):
    with activate(network.scope("store_a")):
        made = []
        for i in range(12):
            c = services.campaign_create(entity=network.store_a, template=templates.email, name=f"C{i}")
            services.campaign_update(campaign=c, scheduled_at=in_days(3 + i % 4))
            made.append(c.pk)
        campaigns = list(Campaign.objects.filter(pk__in=made).select_related("entity", "version__template"))
        with CaptureQueriesContext(connection) as ctx:
            found = selectors.conflicts_for(campaigns)
        assert len(ctx.captured_queries) <= 3
        # 12 campaigns on 4 days: each shares its day with 2 others of the store
        assert all(len(found[c.pk]) == 2 for c in campaigns)
        assert {x.kind for x in found[campaigns[0].pk]} == {"campaign"}
