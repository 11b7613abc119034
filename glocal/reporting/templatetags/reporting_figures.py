"""``{% figure row %}`` / ``{% figure row "previous" %}``: a figure as shown in the tables — a rate with
its count beside it ("12.5% (25)"), an amount, a count, or "—" when a rate has no base."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from glocal.core.money import format_money, format_percent
from glocal.reporting.export import FigureRow

register = template.Library()


@register.simple_tag
def figure(row: FigureRow, which: str = "current") -> SafeString:
    previous = which == "previous"
    count = row.previous if previous else row.current
    rate = row.previous_rate if previous else row.rate
    if row.percent_only:
        return format_html("{}", format_percent(rate) if rate is not None else "—")
    if row.money:
        return format_html("{}", format_money(count))
    if row.key in RATED:
        shown = format_percent(rate) if rate is not None else "—"
        return format_html('{} <span class="muted">({})</span>', shown, count)
    return format_html("{}", count)


RATED = {"bounced", "opened", "clicked", "unsubscribed", "converted"}
