"""``{% campaign_results campaign %}``: the results panels registered in ``campaigns.results``."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from glocal.campaigns.models import Campaign
from glocal.campaigns.results import RESULTS_PANELS

register = template.Library()


@register.simple_tag(takes_context=True)
def campaign_results(context: dict[str, Any], campaign: Campaign) -> SafeString:
    request = context.get("request")
    return mark_safe("".join(panel(request, campaign) for panel in RESULTS_PANELS))  # noqa: S308  (rendered templates)
