"""Reads of the delivery engine that other pages show.

``campaign_results`` and ``high_bounce_campaigns`` are the home pages' last results and problems (a fixed
number of queries, whatever the number of campaigns or messages).

``pressure_preview`` is the campaign simulation's marketing-pressure line (the campaign page, and the
budget check at submission): ``campaigns.selectors.pressure_exclusions`` calls it through the
``PRESSURE_PREVIEW`` hook this app fills in ``DeliveryConfig.ready`` — campaigns sit below delivery and
never import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from django.db.models import Count, Q

from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns.models import Campaign

from . import launch, pressure
from .dispatch.outbox import DONE
from .models import Message, MessageEvent


@dataclass(frozen=True)
class Results:
    """What became of a campaign's messages: accepted by the providers (``sent``), then opened,
    clicked, unsubscribed from, bounced (each counted once per message)."""

    campaign: Campaign
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0

    def _rate(self, count: int) -> float:
        return round(100 * count / self.sent, 1) if self.sent else 0.0

    @property
    def opened_rate(self) -> float:
        return self._rate(self.opened)

    @property
    def clicked_rate(self) -> float:
        return self._rate(self.clicked)

    @property
    def unsubscribed_rate(self) -> float:
        return self._rate(self.unsubscribed)

    @property
    def bounce_rate(self) -> float:
        return self._rate(self.bounced)


def campaign_results(campaigns: Iterable[Campaign]) -> list[Results]:
    """Each campaign's results, in the given order: two queries for any number of campaigns."""
    campaigns = list(campaigns)
    ids = [c.pk for c in campaigns]
    if not ids:
        return []
    counts = {
        row["campaign_id"]: row
        for row in Message.objects.filter(campaign_id__in=ids)
        .values("campaign_id")
        .annotate(
            sent=Count("id", filter=Q(status__in=DONE)),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
            bounced=Count("id", filter=Q(status=Message.Status.BOUNCED)),
        )
        .order_by()
    }
    unsubscribed = dict(
        MessageEvent.objects.filter(message__campaign_id__in=ids, kind=MessageEvent.Kind.UNSUBSCRIBED)
        .values("message__campaign_id")
        .annotate(n=Count("message_id", distinct=True))
        .order_by()
        .values_list("message__campaign_id", "n")
    )
    results = []
    for campaign in campaigns:
        row = counts.get(campaign.pk, {})
        results.append(
            Results(
                campaign,
                sent=row.get("sent", 0),
                opened=row.get("opened", 0),
                clicked=row.get("clicked", 0),
                unsubscribed=unsubscribed.get(campaign.pk, 0),
                bounced=row.get("bounced", 0),
            )
        )
    return results


HIGH_BOUNCE_RATE = 5  # percent of the messages that went out
HIGH_BOUNCE_MIN_SENT = 20  # below this, a bounce or two says nothing about the list
UNDELIVERABLE = (Message.Status.BOUNCED, Message.Status.FAILED)


def high_bounce_campaigns(*, since: dt.datetime, limit: int = 5) -> list[Results]:
    """Campaigns launched since ``since`` whose messages bounced or were refused (``bounced``) for
    ``HIGH_BOUNCE_RATE`` percent or more of those that went out or were refused (``sent``, at least
    ``HIGH_BOUNCE_MIN_SENT``), worst first: two queries."""
    rows = list(
        Message.objects.filter(created_at__gte=since, status__in=(*DONE, Message.Status.FAILED))
        .values("campaign_id")
        .annotate(sent=Count("id"), bounced=Count("id", filter=Q(status__in=UNDELIVERABLE)))
        .filter(sent__gte=HIGH_BOUNCE_MIN_SENT, bounced__gt=0)
        .order_by()
    )
    worst = sorted(
        (r for r in rows if 100 * r["bounced"] >= HIGH_BOUNCE_RATE * r["sent"]),
        key=lambda r: -r["bounced"] / r["sent"],
    )[:limit]
    campaigns = Campaign.objects.select_related("entity").in_bulk([r["campaign_id"] for r in worst])
    return [
        Results(campaigns[r["campaign_id"]], sent=r["sent"], bounced=r["bounced"])
        for r in worst
        if r["campaign_id"] in campaigns
    ]


def pressure_preview(campaign: Campaign) -> tuple[int, list[tuple[str, int]]]:
    """How many of the campaign's contacts marketing pressure would exclude at its send date, and why:
    the launch's own arbitration (``pressure.arbitrate`` over ``launch.history_frame``): the messages
    already sent or waiting and the campaigns submitted or scheduled around that date, with HQ's rules."""
    assert campaign.scheduled_at is not None
    when = campaign.scheduled_at
    configured = launch.rules_for(launch.settings_for(campaign.organisation_id))
    rules = pressure.PressureRules(caps=configured.caps, priority=configured.priority, count_scheduled=True)
    horizon = max((cap.period for cap in rules.caps), default=dt.timedelta(days=7))
    ids = campaign_selectors._audience_ids(campaign, campaign_selectors.PRESSURE_SAMPLE)
    if not ids:
        return 0, []
    history, names = launch.history_frame(
        campaign.organisation_id,
        set(ids),
        rules,
        when,
        scheduled_since=when - horizon,
        exclude_campaign=campaign.pk,
    )
    if history.is_empty():
        return 0, []
    candidates = pl.DataFrame(
        {
            "contact_id": ids,
            "campaign_id": [campaign.pk] * len(ids),
            "channel": [campaign.channel] * len(ids),
        },
        schema={"contact_id": pl.Int64, "campaign_id": pl.Int64, "channel": pl.Utf8},
    )
    campaigns = pl.DataFrame(
        {
            "campaign_id": [campaign.pk],
            "kind": ["central" if campaign.kind == Campaign.Kind.OPERATION else "local"],
            "weight": [campaign.pressure_weight],
            "scheduled_at": [when],
        },
        schema={
            "campaign_id": pl.Int64,
            "kind": pl.Utf8,
            "weight": pl.Int64,
            "scheduled_at": pl.Datetime("us", "UTC"),
        },
    )
    result = pressure.arbitrate(candidates, campaigns, history, rules, when)
    reasons: dict[str, int] = {}
    for row in result.excluded.iter_rows(named=True):
        text = pressure.explain(row, rules, names)
        reasons[text] = reasons.get(text, 0) + 1
    return result.excluded.height, sorted(reasons.items(), key=lambda kv: -kv[1])[:5]


def rented_list_line(campaign: Campaign) -> str:
    """The report's line for the rented list a campaign addressed, counted apart from the contacts
    ("Rented list “Spring rental”: 120 sent, 4 excluded"); "" when it addressed none."""
    from django.utils.translation import gettext

    from glocal.campaigns import audience as campaign_audience

    pk = (campaign.audience_criteria or {}).get("prospect_list")
    if not pk:
        return ""
    from .models import Exclusion

    sent = Message.objects.filter(
        campaign=campaign, contact__isnull=True, stable_id__startswith=f"g{campaign.pk}-p"
    ).count()
    excluded = Exclusion.objects.filter(campaign=campaign, detail_code=launch.RENTED_LIST).count()
    label = campaign_audience.AUDIENCE_SOURCES["prospect_list"].label(int(pk))
    return gettext("%(list)s: %(sent)s sent, %(excluded)s excluded") % {
        "list": label[:1].upper() + label[1:],
        "sent": sent,
        "excluded": excluded,
    }
