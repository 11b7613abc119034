"""Reads of the delivery engine that other pages show.

``pressure_preview`` is the campaign simulation's marketing-pressure line (the campaign page, and the
budget check at submission): ``campaigns.selectors.pressure_exclusions`` calls it through the
``PRESSURE_PREVIEW`` hook this app fills in ``DeliveryConfig.ready`` — campaigns sit below delivery and
never import it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns.models import Campaign

from . import launch, pressure


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
