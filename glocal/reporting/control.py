"""Control groups on the results pages: a campaign's treated and held-out groups, their conversions and
the incremental effect (:mod:`glocal.reporting.stats`), for one campaign and pooled over its operation.

The groups' sizes are counted on the delivery engine's indexed rows (messages to contacts of the
campaign: ``message_campaign_status``; its control-group exclusions: ``exclusion_campaign_reason``); the
conversions are reporting's own (``Conversion``, ``ControlConversion``). Treated converters are the
contacts with a purchase attributed to the campaign's message (attribution's window and touch model);
control converters the held-out contacts who bought within the window after the launch. With several
campaigns close together, last touch credits a treated purchase to one of them while a held-out buyer
counts for each campaign they were held out of: the comparison leans, if anything, against the campaign.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum

from glocal.campaigns.models import Campaign
from glocal.core.money import format_money, format_percent
from glocal.delivery.models import Exclusion, Message

from . import stats
from .models import ControlConversion, Conversion


@dataclass(frozen=True)
class Groups:
    treated: int
    treated_converted: int
    treated_revenue: Decimal
    control: int
    control_converted: int
    control_revenue: Decimal

    def lift(self) -> stats.Lift | None:
        return stats.lift(
            self.treated,
            self.treated_converted,
            self.control,
            self.control_converted,
            self.treated_revenue,
            self.control_revenue,
        )


def groups(campaign_ids: Iterable[int]) -> Groups:
    """The treated and control groups of these campaigns, summed (four aggregate queries).

    Unscoped on purpose: the caller chose the campaigns (one the reader may see, or its operation's,
    whose pooled sums name no store and no contact)."""
    ids = list(campaign_ids)
    treated = Message.unscoped.filter(campaign_id__in=ids, contact__isnull=False).count()
    control = Exclusion.unscoped.filter(campaign_id__in=ids, reason=Exclusion.Reason.CONTROL).count()
    won = Conversion.unscoped.filter(campaign_id__in=ids).aggregate(
        n=Count("message", distinct=True), revenue=Sum("revenue")
    )
    held = ControlConversion.unscoped.filter(campaign_id__in=ids).aggregate(
        n=Count("contact", distinct=True), revenue=Sum("revenue")
    )
    return Groups(
        treated,
        won["n"] or 0,
        won["revenue"] or Decimal(0),
        control,
        held["n"] or 0,
        held["revenue"] or Decimal(0),
    )


def _points(value: float) -> str:
    return format_percent(round(value * 100, 1))


@dataclass(frozen=True)
class Shown:
    """A comparison as the panel prints it."""

    groups: Groups
    lift: stats.Lift | None

    @property
    def treated_rate(self) -> str:
        return _points(self.lift.treated_rate) if self.lift else "—"

    @property
    def control_rate(self) -> str:
        return _points(self.lift.control_rate) if self.lift else "—"

    @property
    def difference(self) -> str:
        return _points(self.lift.difference) if self.lift else "—"

    @property
    def low(self) -> str:
        return _points(self.lift.interval[0]) if self.lift else "—"

    @property
    def high(self) -> str:
        return _points(self.lift.interval[1]) if self.lift else "—"

    @property
    def mde(self) -> str:
        return _points(self.lift.mde) if self.lift else "—"

    @property
    def incremental_conversions(self) -> str:
        return f"{self.lift.incremental_conversions:.1f}" if self.lift else "—"

    @property
    def incremental_revenue(self) -> str:
        return format_money(self.lift.incremental_revenue) if self.lift else "—"

    @property
    def treated_revenue(self) -> str:
        return format_money(self.groups.treated_revenue)

    @property
    def control_revenue(self) -> str:
        return format_money(self.groups.control_revenue)

    @property
    def conclusive(self) -> bool:
        return bool(self.lift and self.lift.conclusive)


def shown(campaign_ids: Iterable[int]) -> Shown:
    found = groups(campaign_ids)
    return Shown(found, found.lift())


def campaign_control(campaign: Campaign) -> dict[str, Shown | None]:
    """The campaign's comparison, and (for an operation's campaign) the operation's pooled one; None when
    the campaign held nobody out."""
    own = shown([campaign.pk])
    if own.groups.control == 0:
        return {"own": None, "pooled": None}
    pooled = None
    if campaign.operation_id is not None:
        siblings = Campaign.unscoped.filter(operation_id=campaign.operation_id).values_list("pk", flat=True)
        pooled = shown(siblings)
    return {"own": own, "pooled": pooled}
