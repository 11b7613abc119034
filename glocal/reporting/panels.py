"""The campaign page's results panel (registered in ``campaigns.results.RESULTS_PANELS``)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State

from . import control, selectors
from .export import figure_rows

SHOWN = (State.SENDING, State.SENT)


def campaign_panel(request: Any, campaign: Campaign) -> str:
    """Delivered, bounced, open / click / unsubscribe rates with their counts, conversions, revenue,
    cost and return, from the rollups (one query); the control group's comparison when the campaign held
    people out (``reporting.control``); nothing before the campaign is sent."""
    if campaign.state not in SHOWN:
        return ""
    figures = selectors.campaign_figures(campaign)
    rows = [r for r in figure_rows(figures, figures) if r.key not in ("opened_total", "clicked_total")]
    return render_to_string(
        "reporting/_campaign_results.html",
        {
            "figures": figures,
            "rows": rows,
            "control": control.campaign_control(campaign),
            "campaign": campaign,
        },
        request=request,
    )
