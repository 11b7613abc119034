"""The watermark job against a recomputation from raw rows: a generated history (stores of two
organisations, email and SMS campaigns, one of an operation, ten days, events of every kind with
duplicates, refusals, bounces, purchases, spend), counted by the job with a crash in the middle and a
re-run, then every rollup compared with sums computed here, independently, from the raw rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from glocal.campaigns.models import LedgerEntry
from glocal.campaigns.tests.factories import _operation
from glocal.delivery.models import Message, MessageEvent
from glocal.reporting import rollup
from glocal.reporting.models import (
    COUNTS,
    FIGURES,
    Conversion,
    DailyRollup,
    MessageFirstSeen,
    RollupWatermark,
)

from . import factories as f

K = MessageEvent.Kind
START = timezone.localdate() - dt.timedelta(days=20)


def _history(network: Any, seed: int = 14) -> None:
    """Every row is written in time order (ids follow time, as in production)."""
    rng = random.Random(seed)
    stores = [network.store_a, network.store_a2, network.store_b, network.other_store]
    pending: list[tuple[dt.datetime, int, Any]] = []  # (when, order, writer)
    order = 0

    def later(when: dt.datetime, write: Any) -> None:
        nonlocal order
        order += 1
        pending.append((when, order, write))

    for store in stores:
        operation = _operation(network.hq) if store.organisation_id == network.org.pk else None
        camps = [f.campaign(store, "email", operation=operation), f.campaign(store, "sms")]
        people = [f.contact(store, n) for n in range(12)]
        for camp in camps:
            later(f.at(START, 8), lambda c=camp: f.spend(c, LedgerEntry.Kind.COMMIT, "9.00", f.at(START, 8)))
            for person in people:
                _one_message(rng, camp, person, later)
            day = START + dt.timedelta(days=rng.randrange(10))
            later(
                f.at(day, 23, 50),
                lambda c=camp, d=day: f.spend(c, LedgerEntry.Kind.ACTUAL, "3.21", f.at(d, 23, 50)),
            )
        for person in people:
            for _ in range(rng.randrange(3)):
                day = START + dt.timedelta(days=rng.randrange(14))
                amount = f"{rng.randrange(5, 200)}.{rng.randrange(100):02d}"
                later(f.at(day, 21), lambda p=person, s=store, d=day, a=amount: f.purchase(p, s, d, a))
    for _, _, write in sorted(pending, key=lambda p: (p[0], p[1])):
        write()


def _one_message(rng: random.Random, camp: Any, person: Any, later: Any) -> None:
    day = START + dt.timedelta(days=rng.randrange(10))
    sent_at = f.at(day, rng.choice([9, 14, 23]), rng.randrange(60))
    refused = rng.random() < 0.1
    bounce = None if refused else rng.choice([None, None, None, "hard_bounce", "failed", "receipt"])
    status = Message.Status.FAILED if refused else (Message.Status.BOUNCED if bounce else Message.Status.SENT)
    holder: dict[str, Message] = {}

    def create() -> None:
        holder["m"] = f.message(camp, person, sent_at=None if refused else sent_at, status=status)
        f.event(holder["m"], K.CLAIMED, sent_at - dt.timedelta(minutes=1))

    def ev(kind: str, when: dt.datetime, **detail: Any) -> None:
        later(when, lambda: f.event(holder["m"], kind, when, **detail))

    later(sent_at - dt.timedelta(minutes=1), create)
    if refused:
        ev(K.FAILED, sent_at, code=550)
        return
    ev(K.SENT, sent_at)
    if rng.random() < 0.1:
        ev(K.SENT, sent_at + dt.timedelta(minutes=5))  # a duplicate mark: counted once
    if bounce:
        _bounce(bounce, sent_at, ev)
        return
    ev(K.DELIVERED, sent_at + dt.timedelta(minutes=2))
    _reactions(rng, sent_at, ev)


def _bounce(bounce: str, sent_at: dt.datetime, ev: Any) -> None:
    if bounce == "hard_bounce":
        ev(K.BOUNCED, sent_at + dt.timedelta(hours=2), action="hard_bounce", suppressed=True)
    elif bounce == "failed":
        ev(K.BOUNCED, sent_at + dt.timedelta(hours=1), action="failed")
        ev(K.BOUNCED, sent_at + dt.timedelta(hours=3), action="failed")  # reported twice
    else:  # an SMS receipt: undelivered
        ev(K.FAILED, sent_at + dt.timedelta(minutes=30), status="undelivered")


def _reactions(rng: random.Random, sent_at: dt.datetime, ev: Any) -> None:
    for _ in range(rng.choice([0, 0, 1, 2, 3])):  # opens and clicks may fall on later days
        ev(K.OPENED, sent_at + dt.timedelta(hours=rng.randrange(1, 60)))
    for _ in range(rng.choice([0, 0, 1, 2])):
        ev(K.CLICKED, sent_at + dt.timedelta(hours=rng.randrange(1, 60)))
    if rng.random() < 0.15:
        ev(K.UNSUBSCRIBED, sent_at + dt.timedelta(hours=5))
        ev(K.UNSUBSCRIBED, sent_at + dt.timedelta(hours=6))
    if rng.random() < 0.05:
        ev(K.COMPLAINT, sent_at + dt.timedelta(hours=7))


def _day(when: dt.datetime) -> dt.date:
    return timezone.localtime(when).date()


def recompute() -> dict[tuple, dict[str, Any]]:
    """Every rollup, from the raw rows: per message, its events in id order."""
    sums: dict[tuple, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    messages = {m.pk: m for m in Message.unscoped.select_related("campaign")}
    events: dict[int, list[MessageEvent]] = defaultdict(list)
    for e in MessageEvent.unscoped.order_by("id"):
        events[e.message_id].append(e)
    sent_day: dict[int, dt.date] = {}
    for pk, rows in events.items():
        m = messages[pk]
        sent = [e for e in rows if e.kind == K.SENT]
        if not sent:
            continue  # refused at the send: nothing counts
        sent_day[pk] = day = _day(sent[0].at)
        key = (m.organisation_id, m.entity_id, m.campaign_id, m.campaign.operation_id, m.channel, day)
        s = sums[key]
        s["sent"] += 1
        bounces = [e for e in rows if e.id > sent[0].id and e.kind in (K.BOUNCED, K.FAILED)]
        if bounces:
            hard = bounces[0].detail.get("action") == "hard_bounce" or bounces[0].detail.get("suppressed")
            s["bounced_hard" if hard else "bounced_soft"] += 1
        else:
            s["delivered"] += 1
        for kind, total, unique in (
            (K.OPENED, "opened_total", "opened_unique"),
            (K.CLICKED, "clicked_total", "clicked_unique"),
        ):
            n = sum(1 for e in rows if e.kind == kind)
            s[total] += n
            s[unique] += int(n > 0)
        s["unsubscribed"] += int(any(e.kind == K.UNSUBSCRIBED for e in rows))
        s["complained"] += int(any(e.kind == K.COMPLAINT for e in rows))
    for c in Conversion.unscoped.select_related("message", "message__campaign"):
        m = c.message
        key = (
            m.organisation_id,
            m.entity_id,
            m.campaign_id,
            m.campaign.operation_id,
            m.channel,
            sent_day[m.pk],
        )
        sums[key]["converted"] += 1
        sums[key]["revenue"] += c.revenue
    for entry in LedgerEntry.unscoped.filter(kind=LedgerEntry.Kind.ACTUAL).select_related(
        "campaign__version__template"
    ):
        camp = entry.campaign
        key = (
            entry.organisation_id,
            entry.entity_id,
            camp.pk,
            camp.operation_id,
            camp.version.template.channel,
            _day(entry.at),
        )
        sums[key]["cost"] += entry.amount
    return {k: _normal(v) for k, v in sums.items() if any(v.values())}


def _normal(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (Decimal(v).quantize(Decimal("0.01")) if k not in COUNTS else int(v)) for k, v in figures.items()
    }


def stored() -> dict[tuple, dict[str, Any]]:
    rows = DailyRollup.unscoped.values(
        "organisation_id", "entity_id", "campaign_id", "operation_id", "channel", "day", *FIGURES
    )
    out = {}
    for r in rows:
        key = (
            r["organisation_id"],
            r["entity_id"],
            r["campaign_id"],
            r["operation_id"],
            r["channel"],
            r["day"],
        )
        figures = _normal({k: r[k] for k in FIGURES})
        if any(figures.values()):
            out[key] = figures
    return out


class Crash(RuntimeError):
    pass


@pytest.mark.django_db(transaction=True)
def test_rollups_equal_a_recomputation_after_a_crash_and_a_rerun(network, monkeypatch):
    _history(network)
    calls = {"n": 0}

    def crash_on_third_batch(source: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # inside the third events batch, after its rollups were written
            raise Crash(source)

    monkeypatch.setattr(rollup, "_checkpoint", crash_on_third_batch)
    with pytest.raises(Crash):
        rollup.run(settle=0, batch=40)
    mark = RollupWatermark.objects.get(source="events")
    assert (
        0 < mark.last_id < MessageEvent.unscoped.order_by("-id").values_list("pk", flat=True)[0]
    )  # half-way
    partial = stored()
    assert partial and partial != recompute()

    monkeypatch.setattr(rollup, "_checkpoint", lambda source: None)
    done = rollup.run(settle=0, batch=40)
    assert done["events"] > 0 and done["purchases"] > 0 and done["ledger"] == 8
    expected = recompute()
    assert Conversion.unscoped.exists()
    assert stored() == expected
    # Every figure appears somewhere in the history (the comparison is not vacuous).
    for name in FIGURES:
        assert any(v[name] for v in expected.values()), name

    assert rollup.run(settle=0) == {"events": 0, "purchases": 0, "ledger": 0}  # a re-run adds nothing
    assert stored() == expected
    assert rollup.rebuild(settle=0)["events"] > 0  # from scratch: the same rollups
    assert stored() == expected


@pytest.mark.django_db
def test_rows_not_settled_wait_for_the_next_run(network):
    """A row younger than the settle delay (60 s) stops the batch: it and every later row wait."""
    camp = f.campaign(network.store_a)
    person = f.contact(network.store_a, 1)
    now = timezone.now()
    m = f.message(camp, person, sent_at=now - dt.timedelta(minutes=5))
    f.event(m, K.SENT, now - dt.timedelta(minutes=5))
    f.event(m, K.OPENED, now - dt.timedelta(seconds=10))
    f.event(m, K.CLICKED, now - dt.timedelta(minutes=3))  # older, but after the young one: waits too
    assert rollup.run(now=now)["events"] == 1
    row = DailyRollup.unscoped.get()
    assert (row.sent, row.delivered, row.opened_total, row.clicked_total) == (1, 1, 0, 0)
    assert rollup.run(now=now + dt.timedelta(minutes=2))["events"] == 2
    row.refresh_from_db()
    assert (row.opened_unique, row.opened_total, row.clicked_unique) == (1, 1, 1)
    assert MessageFirstSeen.objects.filter(message=m).count() == 3
