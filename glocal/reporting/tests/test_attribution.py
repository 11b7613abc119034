"""Attribution against a fixture worked out by hand.

Contact C of store A received (local times):
  m1  campaign X (email)  sent  1 March 10:00
  m2  campaign Y (SMS)    sent  4 March 18:00
  m3  campaign Z (email)  sent 20 March, bounced (not delivered: never converts)
Purchases (C unless said):
  p1 28 Feb   50.00  before any message                          → none
  p2  1 Mar   20.00  m1 (day 0: the send day counts)             → m1
  p3  5 Mar  100.00  m1 (day 4), m2 (day 1)                      → last: m2, first: m1
  p4  8 Mar   30.00  m1 (day 7: the window's last day), m2 (day 4) → last: m2, first: m1
  p5 12 Mar   40.00  m1 (day 11), m2 (day 8: one day too late)   → none
  p6 11 Mar   60.00  m2 (day 7); m1 (day 10) is out              → m2
  p7 21 Mar   25.00  m3 only, bounced                            → none
  p8  5 Mar   70.00  contact D, who received nothing             → none
  p9  5 Mar   80.00  no contact (an anonymous sale)              → none
Last touch (7 days, the default): X 1 conversion 20.00; Y 3 conversions 190.00 (100 + 30 + 60).
First touch: X 3 conversions 150.00 (20 + 100 + 30); Y 1 conversion 60.00.
Last touch with a 3-day window: p2 → m1 (day 0), p3 → m2 (day 1), p4 (days 7 and 4) and p6 (day 7) none:
X 1 / 20.00, Y 1 / 100.00.
Conversions count on the send day of their message: X on 1 March, Y on 4 March.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from glocal.delivery.models import Message, MessageEvent
from glocal.reporting import rollup
from glocal.reporting.models import Conversion, DailyRollup, ReportingSettings, Touch

from . import factories as f

D = dt.date


def _fixture(network: Any) -> dict[str, Any]:
    store = network.store_a
    c, d = f.contact(store, 1), f.contact(store, 2)
    x, y, z = (
        f.campaign(store, "email", name="X"),
        f.campaign(store, "sms", name="Y"),
        f.campaign(store, "email", name="Z"),
    )
    sends = [
        (x, f.at(D(2026, 3, 1), 10), Message.Status.SENT),
        (y, f.at(D(2026, 3, 4), 18), Message.Status.DELIVERED),
        (z, f.at(D(2026, 3, 20), 9), Message.Status.BOUNCED),
    ]
    for camp, when, status in sends:
        m = f.message(camp, c, sent_at=when, status=status)
        f.event(m, MessageEvent.Kind.SENT, when)
    rows = [
        *((c, day, amount) for day, amount in (("2026-02-28", "50.00"), ("2026-03-01", "20.00"))),
        *((c, day, amount) for day, amount in (("2026-03-05", "100.00"), ("2026-03-08", "30.00"))),
        *((c, day, amount) for day, amount in (("2026-03-12", "40.00"), ("2026-03-11", "60.00"))),
        (c, "2026-03-21", "25.00"),
        (d, "2026-03-05", "70.00"),
        (None, "2026-03-05", "80.00"),
    ]
    purchases = [f.purchase(who, store, D.fromisoformat(day), amount) for who, day, amount in rows]
    return {"X": x, "Y": y, "Z": z, "purchases": purchases}


def _results(fx: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    out = {}
    for name in ("X", "Y", "Z"):
        rows = DailyRollup.unscoped.filter(campaign=fx[name], converted__gt=0)
        out[name] = (sum(r.converted for r in rows), sum((r.revenue for r in rows), Decimal("0")))
    return out


def _attributed(fx: dict[str, Any]) -> dict[int, str]:
    """purchase number (1-based) → campaign name."""
    names = {fx[n].pk: n for n in ("X", "Y", "Z")}
    index = {p.pk: i + 1 for i, p in enumerate(fx["purchases"])}
    return {index[c.purchase_id]: names[c.campaign_id] for c in Conversion.unscoped.all()}


@pytest.mark.django_db
def test_last_touch_by_default(network):
    fx = _fixture(network)
    rollup.run(settle=0)
    assert _attributed(fx) == {2: "X", 3: "Y", 4: "Y", 6: "Y"}
    assert _results(fx) == {"X": (1, Decimal("20.00")), "Y": (3, Decimal("190.00")), "Z": (0, Decimal("0"))}
    days = dict(DailyRollup.unscoped.filter(converted__gt=0).values_list("campaign__name", "day"))
    assert days == {"X": D(2026, 3, 1), "Y": D(2026, 3, 4)}
    assert set(Conversion.unscoped.values_list("touch", flat=True)) == {Touch.LAST}


@pytest.mark.django_db
def test_first_touch(network):
    fx = _fixture(network)
    ReportingSettings.unscoped.create(organisation=network.org, window_days=7, touch=Touch.FIRST)
    rollup.run(settle=0)
    assert _attributed(fx) == {2: "X", 3: "X", 4: "X", 6: "Y"}
    assert _results(fx) == {"X": (3, Decimal("150.00")), "Y": (1, Decimal("60.00")), "Z": (0, Decimal("0"))}


@pytest.mark.django_db
def test_a_shorter_window(network):
    fx = _fixture(network)
    ReportingSettings.unscoped.create(organisation=network.org, window_days=3, touch=Touch.LAST)
    rollup.run(settle=0)
    assert _attributed(fx) == {2: "X", 3: "Y"}
    assert _results(fx) == {"X": (1, Decimal("20.00")), "Y": (1, Decimal("100.00")), "Z": (0, Decimal("0"))}


@pytest.mark.django_db
def test_a_purchase_is_attributed_once(network):
    """Re-runs do not attribute again; a rebuild attributes each purchase anew, under today's settings."""
    fx = _fixture(network)
    rollup.run(settle=0)
    rollup.run(settle=0)
    assert Conversion.unscoped.count() == 4
    ReportingSettings.unscoped.create(organisation=network.org, window_days=7, touch=Touch.FIRST)
    rollup.run(settle=0)
    assert _attributed(fx) == {2: "X", 3: "Y", 4: "Y", 6: "Y"}  # already attributed: kept
    rollup.rebuild(settle=0)
    assert _attributed(fx) == {2: "X", 3: "X", 4: "X", 6: "Y"}
    assert _results(fx)["X"] == (3, Decimal("150.00"))


@pytest.mark.django_db
def test_another_organisations_message_never_converts(network):
    """The same contact id cannot cross organisations, but a purchase is only ever matched with messages
    of its own organisation."""
    fx = _fixture(network)
    other = f.contact(network.other_store, 1)
    camp = f.campaign(network.other_store, "email")
    when = f.at(D(2026, 3, 1), 9)
    m = f.message(camp, other, sent_at=when)
    f.event(m, MessageEvent.Kind.SENT, when)
    f.purchase(other, network.other_store, D(2026, 3, 2), "15.00")
    rollup.run(settle=0)
    assert Conversion.unscoped.filter(organisation=network.other_org).get().campaign_id == camp.pk
    assert _results(fx)["Y"] == (3, Decimal("190.00"))
