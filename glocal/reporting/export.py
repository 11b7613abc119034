"""The figures of a report as table rows (the page's and the CSV's), and the CSV itself — every cell a
spreadsheet cannot run (formula injection: a leading = + - @ tab CR gets a quote)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from .selectors import Figures, Report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not NUMBER.match(text):
        return "'" + text
    return text


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120]


@dataclass(frozen=True)
class FigureRow:
    """One figure: its label, this period's count (and rate, with the rate's base), the previous's."""

    key: str
    label: str
    current: int | Decimal
    previous: int | Decimal
    rate: float | None = None
    previous_rate: float | None = None
    money: bool = False
    percent_only: bool = False


SPEC = [  # key, label, count attribute, rate attribute
    ("sent", gettext_lazy("Sent"), "sent", ""),
    ("delivered", gettext_lazy("Delivered"), "delivered", ""),
    ("bounced", gettext_lazy("Bounced (of sent)"), "bounced", "bounce_rate"),
    ("bounced_hard", gettext_lazy("Hard bounces"), "bounced_hard", ""),
    ("bounced_soft", gettext_lazy("Soft bounces"), "bounced_soft", ""),
    ("opened", gettext_lazy("Opened (of delivered)"), "opened_unique", "open_rate"),
    ("opened_total", gettext_lazy("Opens, all"), "opened_total", ""),
    ("clicked", gettext_lazy("Clicked (of delivered)"), "clicked_unique", "click_rate"),
    ("clicked_total", gettext_lazy("Clicks, all"), "clicked_total", ""),
    ("unsubscribed", gettext_lazy("Unsubscribed (of delivered)"), "unsubscribed", "unsubscribe_rate"),
    ("complained", gettext_lazy("Marked as spam"), "complained", ""),
    ("converted", gettext_lazy("Conversions (of delivered)"), "converted", "conversion_rate"),
    ("revenue", gettext_lazy("Revenue"), "revenue", ""),
    ("cost", gettext_lazy("Cost"), "cost", ""),
    ("roi", gettext_lazy("Return on cost"), "", "roi"),
]
MONEY = {"revenue", "cost"}


def figure_rows(now: Figures, before: Figures) -> list[FigureRow]:
    rows = []
    for key, label, count, rate in SPEC:
        rows.append(
            FigureRow(
                key,
                str(label),
                getattr(now, count) if count else 0,
                getattr(before, count) if count else 0,
                getattr(now, rate) if rate else None,
                getattr(before, rate) if rate else None,
                money=key in MONEY,
                percent_only=not count,
            )
        )
    return rows


def _value(row: FigureRow, previous: bool) -> list[str]:
    count = row.previous if previous else row.current
    rate = row.previous_rate if previous else row.rate
    cells = [] if row.percent_only else [safe_cell(count)]
    return [*cells, safe_cell("" if rate is None else rate)]


def report_csv(report: Report) -> bytes:
    """Three tables one after the other: the node's figures (this period, previous), then one line per
    child node and per campaign (this period's figures, then the previous period's)."""
    out = io.StringIO()
    writer = csv.writer(out)
    p, q = report.period, report.period.previous()
    writer.writerow(
        [safe_cell(report.entity.name), f"{p.start}..{p.end}", _("previous period"), f"{q.start}..{q.end}"]
    )
    writer.writerow([_("Figure"), _("This period"), _("Rate (%)"), _("Previous period"), _("Rate (%)")])
    for row in figure_rows(report.current, report.previous):
        now_cells, before_cells = _value(row, False), _value(row, True)
        if row.percent_only:
            now_cells, before_cells = ["", *now_cells], ["", *before_cells]
        writer.writerow([safe_cell(row.label), *now_cells, *before_cells])
    names = [r.key for r in figure_rows(report.current, report.previous)]
    for title, lines in ((_("Child nodes"), report.children), (_("Campaigns"), report.campaigns)):
        if not lines:
            continue
        writer.writerow([])
        writer.writerow([title, *names, *(f"{n} ({_('previous period')})" for n in names)])
        for line in lines:
            rows = figure_rows(line.current, line.previous)
            writer.writerow(
                [safe_cell(line.label), *(_flat(r, False) for r in rows), *(_flat(r, True) for r in rows)]
            )
    return ("\ufeff" + out.getvalue()).encode()


def _flat(row: FigureRow, previous: bool) -> str:
    """One cell per figure in the per-line tables: the rate for ROI, else the count."""
    if row.percent_only:
        value = row.previous_rate if previous else row.rate
        return safe_cell("" if value is None else value)
    return safe_cell(row.previous if previous else row.current)
