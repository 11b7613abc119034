"""Control groups in reporting: the statistics against a fixture worked out by hand, the control
conversions the rollup job finds, and the campaign panel's comparison (one campaign, and pooled over an
operation)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from glocal.campaigns.models import Operation
from glocal.delivery.models import Exclusion, MessageEvent
from glocal.reporting import control, rollup, stats
from glocal.reporting.models import ControlConversion

from . import factories as f

D = dt.date


def test_the_statistics_of_1900_treated_against_100_held_out():
    """1,900 messaged with 95 converters (5 %, 4,750.00) against 100 held out with 3 (3 %, 150.00).

    z = 1.959964 (95 %, two-sided), z² = 3.841459; z_0.80 = 0.841621.
    Wilson, treated: centre = (0.05 + z²/3800) / (1 + z²/1900) = 0.0510109 / 1.0020218 = 0.0509080;
      half = z / 1.0020218 × sqrt(0.05 × 0.95 / 1900 + z² / (4 × 1900²)) = 1.955999 × 0.0050266 = 0.0098320
      → [0.041076, 0.060740].
    Wilson, control: centre = (0.03 + z²/200) / (1 + z²/100) = 0.0492073 / 1.0384146 = 0.0473870;
      half = 1.887457 × sqrt(0.03 × 0.97 / 100 + z² / 40000) = 1.887457 × 0.0196732 = 0.0371324
      → [0.010255, 0.084519].
    Difference d = 0.05 − 0.03 = 0.02 (2 points).
    Newcombe: low = d − sqrt((0.05 − 0.041076)² + (0.084519 − 0.03)²) = 0.02 − sqrt(0.0030520) = −0.035245;
      high = d + sqrt((0.060740 − 0.05)² + (0.03 − 0.010255)²) = 0.02 + sqrt(0.00050522) = 0.042477.
      The interval holds 0: not conclusive. (The normal approximation would give 0.02 ± 1.959964 ×
      0.0177764 = [−0.014841, 0.054841], also holding 0.)
    Incremental conversions: 0.02 × 1900 = 38; incremental revenue: 4,750.00 − 150.00 × 1900 / 100 = 1,900.00.
    MDE at the pooled rate p̄ = 98 / 2000 = 0.049: (1.959964 + 0.841621) × sqrt(0.049 × 0.951 × (1/1900 +
      1/100)) = 2.801585 × sqrt(0.00049052) = 2.801585 × 0.0221476 = 0.062048: 6.2 points.
    """
    lift = stats.lift(1900, 95, 100, 3, Decimal("4750.00"), Decimal("150.00"))
    assert lift is not None
    assert lift.treated_rate == pytest.approx(0.05)
    assert lift.control_rate == pytest.approx(0.03)
    assert lift.difference == pytest.approx(0.02)
    assert stats.wilson(95, 1900) == pytest.approx((0.041076, 0.060740), abs=1e-6)
    assert stats.wilson(3, 100) == pytest.approx((0.010255, 0.084519), abs=1e-6)
    assert lift.interval == pytest.approx((-0.035245, 0.042477), abs=1e-6)
    assert not lift.conclusive
    assert lift.incremental_conversions == pytest.approx(38)
    assert lift.incremental_revenue == Decimal("1900.00")
    assert lift.mde == pytest.approx(0.062048, abs=1e-6)


def test_a_large_enough_difference_concludes_and_no_control_group_compares_nothing():
    """20,000 messaged at 6 % (1,200) against 2,000 held out at 3 % (60): Wilson gives [0.056792, 0.063377]
    and [0.023378, 0.038424]; Newcombe's low end = 0.03 − sqrt(0.003208² + 0.008424²) = 0.03 − 0.009014
    = 0.020986 > 0: conclusive."""
    lift = stats.lift(20_000, 1200, 2000, 60)
    assert lift is not None and lift.conclusive
    assert lift.interval[0] == pytest.approx(0.020986, abs=1e-5)
    assert stats.lift(100, 5, 0, 0) is None


def _held_out(camp: Any, person: Any, when: dt.datetime) -> Exclusion:
    return Exclusion.unscoped.create(
        organisation=camp.organisation,
        entity_path=camp.entity.path,
        campaign=camp,
        contact=person,
        reason=Exclusion.Reason.CONTROL,
        detail_code="control_group",
        params={"percent": 10},
        at=when,
    )


def _campaign_with_control(store: Any, day: D, *, operation: Operation | None = None, name: str = "X") -> Any:
    """Campaign of ``store`` launched on ``day`` at 09:00: 4 contacts messaged at 10:00 (t0 buys 40.00 two
    days later), 3 held out: h0 buys 15.00 on the launch day and 10.00 four days later (one converter,
    25.00), h1 buys 8 days later (out of the 7-day window), h2 the day before (out)."""
    camp = f.campaign(store, "email", operation=operation, name=name)
    base = 1000 * camp.pk
    treated = [f.contact(store, base + i) for i in range(4)]
    held = [f.contact(store, base + 10 + i) for i in range(3)]
    for person in treated:
        m = f.message(camp, person, sent_at=f.at(day, 10))
        f.event(m, MessageEvent.Kind.SENT, f.at(day, 10))
    for person in held:
        _held_out(camp, person, f.at(day, 9))
    f.purchase(treated[0], store, day + dt.timedelta(days=2), "40.00")
    f.purchase(held[0], store, day, "15.00")
    f.purchase(held[0], store, day + dt.timedelta(days=4), "10.00")
    f.purchase(held[1], store, day + dt.timedelta(days=8), "99.00")
    f.purchase(held[2], store, day - dt.timedelta(days=1), "99.00")
    return camp


@pytest.mark.django_db
def test_the_rollup_counts_held_out_buyers_in_the_window_once(network):
    camp = _campaign_with_control(network.store_a, D(2026, 3, 1))
    rollup.run(settle=0)
    rollup.run(settle=0)
    rows = ControlConversion.unscoped.filter(campaign=camp)
    assert sorted(r.revenue for r in rows) == [Decimal("10.00"), Decimal("15.00")]
    assert {r.day for r in rows} == {D(2026, 3, 1)}
    assert {r.entity_id for r in rows} == {network.store_a.pk}
    expected = control.Groups(4, 1, Decimal("40.00"), 3, 1, Decimal("25.00"))
    assert control.groups([camp.pk]) == expected
    rollup.rebuild(settle=0)
    assert control.groups([camp.pk]) == expected


def _operation(network: Any) -> Operation:
    now = timezone.now()
    return Operation.unscoped.create(
        organisation=network.org,
        owner=network.hq,
        name="Foire aux vins",
        visible_from=now.date(),
        subscription_deadline=now,
        personalisation_deadline=now,
        in_market_start=now.date(),
        in_market_end=now.date(),
    )


@pytest.mark.django_db
def test_the_campaign_panel_compares_and_pools_over_the_operation(network, login):
    op = _operation(network)
    day = timezone.localdate() - dt.timedelta(days=10)
    a = _campaign_with_control(network.store_a, day, operation=op, name="Vins A")
    _campaign_with_control(network.store_b, day, operation=op, name="Vins B")
    rollup.run(settle=0)
    page = login(network, "store_a").get(reverse("campaigns:detail", args=[a.pk])).content.decode()
    own = page.split('data-testid="control-group"')[1].split("</section>")[0]
    assert 'data-figure="treated">4<' in own and 'data-figure="control">3<' in own
    assert 'data-figure="treated_rate">25%<' in own and 'data-figure="control_rate">33.3%<' in own
    assert 'data-testid="inconclusive"' in own and "pooled at the operation" in own
    pooled = page.split('data-testid="control-group-pooled"')[1].split("</section>")[0]
    assert 'data-figure="treated">8<' in pooled and 'data-figure="control">6<' in pooled
    assert "Vins B" not in page and network.store_b.name not in page  # sums only, no other store named


@pytest.mark.django_db
def test_the_comparison_reads_in_french(network, login):
    day = timezone.localdate() - dt.timedelta(days=10)
    a = _campaign_with_control(network.store_a, day, name="Vins A")
    rollup.run(settle=0)
    client = login(network, "store_a")
    client.cookies["django_language"] = "fr"
    page = client.get(reverse("campaigns:detail", args=[a.pk])).content.decode()
    own = page.split('data-testid="control-group"')[1].split("</section>")[0]
    assert "Groupe témoin\u00a0: ce que la campagne a apporté" in own
    assert "Trop petit pour conclure\u00a0:" in own
    assert "Too small" not in own and "Messaged" not in own
