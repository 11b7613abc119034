"""Reads of the rollups for pages: figures of a campaign, of a node's subtree over a period (with the
previous period), per child node and per campaign. Pages never read raw events (docs/reporting.md).

Every query goes through ``DailyRollup.objects`` (scoped: the acting scope's subtree only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from glocal.campaigns.models import Campaign
from glocal.network.models import Entity

from .models import AMOUNTS, COUNTS, FIGURES, DailyRollup, ReportingSettings, Touch


@dataclass(frozen=True)
class Figures:
    """Sums of the rollups, and the rates pages show beside them (``None`` when the base is zero)."""

    sent: int = 0
    delivered: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    opened_unique: int = 0
    opened_total: int = 0
    clicked_unique: int = 0
    clicked_total: int = 0
    unsubscribed: int = 0
    complained: int = 0
    converted: int = 0
    revenue: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Figures:
        values: dict[str, Any] = {name: row.get(name) or 0 for name in COUNTS}
        values.update({name: Decimal(row.get(name) or 0) for name in AMOUNTS})
        return cls(**values)

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    @staticmethod
    def _rate(count: int, base: int) -> float | None:
        return round(100 * count / base, 1) if base else None

    @property
    def bounce_rate(self) -> float | None:
        return self._rate(self.bounced, self.sent)

    @property
    def open_rate(self) -> float | None:
        return self._rate(self.opened_unique, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return self._rate(self.clicked_unique, self.delivered)

    @property
    def unsubscribe_rate(self) -> float | None:
        return self._rate(self.unsubscribed, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        return self._rate(self.converted, self.delivered)

    @property
    def roi(self) -> float | None:
        """(revenue − cost) / cost, in percent."""
        if not self.cost:
            return None
        return round(float(100 * (self.revenue - self.cost) / self.cost), 1)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


SUMS = {name: Sum(name) for name in FIGURES}


def totals(rollups: QuerySet[DailyRollup]) -> Figures:
    return Figures.of(rollups.aggregate(**SUMS))


def campaign_figures(campaign: Campaign) -> Figures:
    """A campaign's figures, all days (one query)."""
    return totals(DailyRollup.objects.filter(campaign=campaign))


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end)

    def q(self) -> Q:
        return Q(day__gte=self.start, day__lte=self.end)


DEFAULT_DAYS = 30
MAX_DAYS = 366 * 3


def period_from(start: str | None, end: str | None, today: dt.date | None = None) -> Period:
    """The page's date range: ``start`` / ``end`` (ISO dates) when valid, else the last 30 days."""
    today = today or timezone.localdate()
    try:
        last = dt.date.fromisoformat(end) if end else today
        first = dt.date.fromisoformat(start) if start else last - dt.timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        last, first = today, today - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    if (last - first).days >= MAX_DAYS:
        first = last - dt.timedelta(days=MAX_DAYS - 1)
    return Period(first, last)


@dataclass(frozen=True)
class Line:
    """One row of a table: what it is about, its link, this period's figures and the previous period's."""

    label: str
    url: str
    current: Figures
    previous: Figures


@dataclass(frozen=True)
class Report:
    entity: Entity
    period: Period
    current: Figures
    previous: Figures
    children: list[Line]
    campaigns: list[Line]


def _by(rollups: QuerySet[DailyRollup], *keys: str) -> dict[Any, Figures]:
    rows = rollups.values(*keys).annotate(**SUMS).order_by()
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: Figures.of(r) for r in rows}


def entity_report(entity: Entity, period: Period, *, campaign_limit: int = 50) -> Report:
    """``entity``'s subtree over ``period`` and the one before: totals, one line per child node (its own
    subtree's sums) and per campaign. Six grouped queries, whatever the size of the subtree."""
    from django.urls import reverse

    subtree = DailyRollup.objects.filter(entity__path__startswith=entity.path)
    previous = period.previous()
    now_q, before_q = subtree.filter(period.q()), subtree.filter(previous.q())
    children = list(Entity.objects.filter(parent=entity).order_by("name"))

    def per_child(rollups: QuerySet[DailyRollup]) -> dict[int, Figures]:
        sums: dict[int, Figures] = {}
        for path, figures in _by(rollups, "entity__path").items():
            for child in children:
                if path.startswith(child.path):
                    sums[child.pk] = sums.get(child.pk, Figures()) + figures
        return sums

    child_now, child_before = per_child(now_q), per_child(before_q)
    child_lines = [
        Line(c.name, reverse("reports:entity", args=[c.pk]), child_now.get(c.pk, Figures()),
             child_before.get(c.pk, Figures()))
        for c in children
    ]  # fmt: skip
    camp_now, camp_before = _by(now_q, "campaign_id"), _by(before_q, "campaign_id")
    names = dict(Campaign.objects.filter(pk__in=[pk for pk in camp_now if pk]).values_list("pk", "name"))
    ranked = sorted((pk for pk in camp_now if pk in names), key=lambda pk: (-camp_now[pk].sent, names[pk]))
    campaign_lines = [
        Line(names[pk], reverse("campaigns:detail", args=[pk]), camp_now[pk], camp_before.get(pk, Figures()))
        for pk in ranked[:campaign_limit]
    ]
    return Report(entity, period, totals(now_q), totals(before_q), child_lines, campaign_lines)


def settings_row(organisation_id: int) -> ReportingSettings:
    row = ReportingSettings.objects.filter(organisation_id=organisation_id).first()
    return row or ReportingSettings(organisation_id=organisation_id, window_days=7, touch=Touch.LAST)


@dataclass(frozen=True)
class Daily:
    """One figure set per day of a period and of the one before, aligned by position: ``previous[i]``
    is the day ``period.previous().start + i`` (the same weekday as ``days[i]`` for whole weeks)."""

    days: list[dt.date]
    current: list[Figures]
    previous_days: list[dt.date]
    previous: list[Figures]


def daily_series(entity: Entity, period: Period) -> Daily:
    """``entity``'s subtree day by day over ``period`` and the one before (days without rollups: zero).
    Two grouped queries on the rollups."""
    subtree = DailyRollup.objects.filter(entity__path__startswith=entity.path)
    before = period.previous()
    now = _by(subtree.filter(period.q()), "day")
    then = _by(subtree.filter(before.q()), "day")
    days = [period.start + dt.timedelta(days=i) for i in range(period.days)]
    previous_days = [before.start + dt.timedelta(days=i) for i in range(period.days)]
    return Daily(
        days,
        [now.get(d, Figures()) for d in days],
        previous_days,
        [then.get(d, Figures()) for d in previous_days],
    )
