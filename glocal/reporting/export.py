"""The figures of a report as table rows (the page's and the exports'), the CSV and the XLSX — every cell a
spreadsheet cannot run (formula injection: in the CSV a leading = + - @ tab CR gets a quote; in the XLSX
such a cell is written as text with the "quote prefix" style, so it shows as typed and is never run)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from .selectors import Daily, Figures, Report

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


def report_csv(report: Report, daily: Daily | None = None) -> bytes:
    """The page's tables one after the other: the node's figures (this period, previous), one line per
    child node and per campaign (this period's figures, then the previous period's), and with ``daily``
    the daily chart's numbers (one line per day)."""
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
    if daily is not None:
        writer.writerow([])
        writer.writerow(daily_header())
        writer.writerows([[safe_cell(v) for v in row] for row in daily_rows(daily)])
    return ("\ufeff" + out.getvalue()).encode()


def _flat(row: FigureRow, previous: bool) -> str:
    """One cell per figure in the per-line tables: the rate for ROI, else the count."""
    if row.percent_only:
        value = row.previous_rate if previous else row.rate
        return safe_cell("" if value is None else value)
    return safe_cell(row.previous if previous else row.current)


# --- Daily series (the chart's numbers) and the XLSX ----------------------------------------------------

DAILY = [  # key, label, Figures attribute: the lines of the daily chart
    ("sent", gettext_lazy("Sent"), "sent"),
    ("delivered", gettext_lazy("Delivered"), "delivered"),
    ("opened", gettext_lazy("Opened"), "opened_unique"),
    ("clicked", gettext_lazy("Clicked"), "clicked_unique"),
]


def daily_header() -> list[str]:
    names = [str(label) for _key, label, _attr in DAILY]
    previous = _("previous period")
    return [_("Day"), *names, _("Day (previous period)"), *(f"{n} ({previous})" for n in names)]


def daily_rows(daily: Daily) -> list[list[object]]:
    """One row per day: the day and its figures, then the aligned day of the previous period and its."""
    rows: list[list[object]] = []
    for day, now, before_day, before in zip(
        daily.days, daily.current, daily.previous_days, daily.previous, strict=True
    ):
        rows.append(
            [
                day,
                *(getattr(now, attr) for _k, _l, attr in DAILY),
                before_day,
                *(getattr(before, attr) for _k, _l, attr in DAILY),
            ]
        )
    return rows


def _figure_value(row: FigureRow, previous: bool) -> object:
    """One cell per figure in the per-line tables: the rate for ROI, else the count (as a number)."""
    if row.percent_only:
        return row.previous_rate if previous else row.rate
    return row.previous if previous else row.current


def report_xlsx(report: Report, daily: Daily) -> bytes:
    """The page's tables, one sheet each: the node's figures, its child nodes, its campaigns and the
    daily chart's numbers. Counts and amounts are numbers, days are dates, rates are percent numbers."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(_("Figures"))
    p, q = report.period, report.period.previous()
    _append(sheet, [report.entity.name, p.start, p.end, _("previous period"), q.start, q.end])
    _append(sheet, [_("Figure"), _("This period"), _("Rate (%)"), _("Previous period"), _("Rate (%)")])
    for row in figure_rows(report.current, report.previous):
        now = None if row.percent_only else row.current
        before = None if row.percent_only else row.previous
        _append(sheet, [row.label, now, row.rate, before, row.previous_rate])
    names = [str(label) for _k, label, *_rest in SPEC]
    previous = _("previous period")
    for title, lines in ((_("Child nodes"), report.children), (_("Campaigns"), report.campaigns)):
        sheet = book.create_sheet(_sheet_title(title))
        _append(sheet, [title, *names, *(f"{n} ({previous})" for n in names)])
        for line in lines:
            rows = figure_rows(line.current, line.previous)
            _append(
                sheet,
                [
                    line.label,
                    *(_figure_value(r, False) for r in rows),
                    *(_figure_value(r, True) for r in rows),
                ],
            )
    sheet = book.create_sheet(_sheet_title(_("Day by day")))
    _append(sheet, daily_header())
    for values in daily_rows(daily):
        _append(sheet, values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    """Excel refuses []:*?/\\ in a sheet's name and more than 31 characters."""
    return re.sub(r"[\\[\]:*?/]", " ", str(title))[:31]


def _append(sheet: object, values: Sequence[object]) -> None:
    from openpyxl.worksheet.worksheet import Worksheet

    assert isinstance(sheet, Worksheet)
    row = sheet.max_row + 1 if sheet.max_row > 1 or sheet.cell(1, 1).value is not None else 1
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row, column)
        if isinstance(value, dt.date):
            cell.value = value
            cell.number_format = "yyyy-mm-dd"
        elif isinstance(value, int | float | Decimal):
            cell.value = value
        elif value is not None:
            text = str(value)
            cell.value = text
            cell.data_type = "s"  # never a formula, whatever it starts with
            if text.startswith(FORMULA_START):
                cell.quotePrefix = True
