"""The results pages: a store's dashboard, a region's children and drill-down, the CSV, the campaign
page's panel, HQ's attribution settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from glocal.campaigns.models import LedgerEntry
from glocal.core.models import AuditEvent
from glocal.delivery.models import MessageEvent
from glocal.reporting import rollup
from glocal.reporting.models import ReportingSettings

from . import factories as f

K = MessageEvent.Kind


def _sent(network: Any, store: Any, name: str, n: int, opened: int, day: dt.date) -> Any:
    camp = f.campaign(store, "email", name=name)
    for i in range(n):
        person = f.contact(store, 100 * camp.pk + i)
        m = f.message(camp, person, sent_at=f.at(day, 10))
        f.event(m, K.SENT, f.at(day, 10))
        if i < opened:
            f.event(m, K.OPENED, f.at(day, 12))
            f.event(m, K.OPENED, f.at(day, 13))
        if i == 0:
            f.purchase(person, store, day + dt.timedelta(days=1), "42.00")
    f.spend(camp, LedgerEntry.Kind.ACTUAL, "2.00", f.at(day, 10))
    return camp


@pytest.fixture
def results(network):
    today = timezone.localdate()
    a = _sent(network, network.store_a, "Soldes A", 10, 4, today - dt.timedelta(days=3))
    old = _sent(network, network.store_a, "Rentrée A", 5, 1, today - dt.timedelta(days=40))  # previous period
    b = _sent(network, network.store_b, '=HYPERLINK("http://x")', 8, 2, today - dt.timedelta(days=2))
    rollup.run(settle=0)
    return {"a": a, "old": old, "b": b}


@pytest.mark.django_db
def test_a_store_sees_its_rates_with_counts_and_the_previous_period(network, login, results):
    page = login(network, "store_a").get(reverse("reports:dashboard")).content.decode()
    assert "Magasin A" in page
    assert 'data-figure="sent">10<' in page
    assert 'data-previous="sent">5<' in page
    assert 'data-figure="opened">40% <span class="muted">(4)</span>' in page  # 4 of 10 delivered
    assert 'data-figure="converted">10% <span class="muted">(1)</span>' in page
    assert 'data-figure="roi">2,000%' in page or 'data-figure="roi">2000%' in page  # (42 − 2) / 2
    assert "Soldes A" in page and "Magasin B" not in page and "HYPERLINK" not in page


@pytest.mark.django_db
def test_a_region_sees_its_stores_and_drills_down(network, login, results):
    client = login(network, "regional")
    page = client.get(reverse("reports:dashboard")).content.decode()
    assert 'data-testid="children"' in page
    assert reverse("reports:entity", args=[network.store_a.pk]) in page
    assert "Magasin B" not in page  # another region
    store = client.get(reverse("reports:entity", args=[network.store_a.pk])).content.decode()
    assert "Soldes A" in store and reverse("reports:entity", args=[network.region_n.pk]) in store
    assert client.get(reverse("reports:entity", args=[network.store_b.pk])).status_code == 404
    assert client.get(reverse("reports:entity", args=[network.hq.pk])).status_code == 404
    assert client.get(reverse("reports:entity", args=[network.other_store.pk])).status_code == 404


@pytest.mark.django_db
def test_hq_sees_the_network_and_the_date_range_is_honoured(network, login, results):
    client = login(network, "hq_admin")
    page = client.get(reverse("reports:dashboard")).content.decode()
    assert 'data-figure="sent">18<' in page  # 10 (store A) + 8 (store B) in the last 30 days
    start = (timezone.localdate() - dt.timedelta(days=45)).isoformat()
    end = (timezone.localdate() - dt.timedelta(days=35)).isoformat()
    older = client.get(reverse("reports:dashboard"), {"start": start, "end": end}).content.decode()
    assert 'data-figure="sent">5<' in older
    assert client.get(reverse("reports:dashboard"), {"start": "nonsense"}).status_code == 200


@pytest.mark.django_db
def test_the_csv_neutralises_formulas(network, login, results):
    client = login(network, "hq_admin")
    response = client.get(reverse("reports:export", args=[network.hq.pk]))
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and "\n=HYPERLINK" not in text
    assert "Soldes A" in text and "Région Nord" in text
    assert (
        login(network, "store_a").get(reverse("reports:export", args=[network.store_b.pk])).status_code == 404
    )


@pytest.mark.django_db
def test_the_campaign_page_shows_the_results_panel(network, login, results):
    page = login(network, "store_a").get(reverse("campaigns:detail", args=[results["a"].pk])).content.decode()
    assert 'data-testid="campaign-results"' in page
    assert 'data-figure="delivered">10<' in page
    assert 'data-figure="clicked">0% <span class="muted">(0)</span>' in page
    assert 'data-figure="revenue">' in page


@pytest.mark.django_db
def test_hq_sets_the_attribution_rule(network, login):
    client = login(network, "hq_marketer")
    assert client.get(reverse("reports:settings")).status_code == 200
    response = client.post(reverse("reports:settings"), {"window_days": "14", "touch": "first"})
    assert response.status_code == 302
    row = ReportingSettings.unscoped.get(organisation=network.org)
    assert (row.window_days, row.touch) == (14, "first")
    assert AuditEvent.unscoped.filter(action="reporting.settings").exists()
    assert (
        client.post(reverse("reports:settings"), {"window_days": "500", "touch": "first"}).status_code == 200
    )
    assert login(network, "store_a").get(reverse("reports:settings")).status_code == 403


@pytest.mark.django_db
def test_french(network, login, results):
    client = login(network, "store_a")
    client.cookies["django_language"] = "fr"
    page = client.get(reverse("reports:dashboard"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Résultats" in page
