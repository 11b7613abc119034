"""The results pages' charts (their embedded numbers equal the rollups; a table of them under each chart)
and the XLSX export (opens in openpyxl, numbers as numbers, days as dates, formulas written as text)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from glocal.delivery.models import MessageEvent
from glocal.reporting import rollup
from glocal.reporting.models import DailyRollup

from . import factories as f

K = MessageEvent.Kind


def _sent(store: Any, name: str, n: int, opened: int, clicked: int, day: dt.date) -> Any:
    camp = f.campaign(store, "email", name=name)
    for i in range(n):
        person = f.contact(store, 100 * camp.pk + i)
        m = f.message(camp, person, sent_at=f.at(day, 10))
        f.event(m, K.SENT, f.at(day, 10))
        if i < opened:
            f.event(m, K.OPENED, f.at(day, 12))
        if i < clicked:
            f.event(m, K.CLICKED, f.at(day, 13))
    return camp


@pytest.fixture
def history(network: Any) -> dict[str, dt.date]:
    today = timezone.localdate()
    days = {"a": today - dt.timedelta(days=3), "a2": today - dt.timedelta(days=1)}
    days["b"] = today - dt.timedelta(days=2)
    days["old"] = today - dt.timedelta(days=40)  # in the previous 30 days
    _sent(network.store_a, "Soldes A", 10, 4, 2, days["a"])
    _sent(network.store_a, "Flash A", 3, 3, 1, days["a2"])
    _sent(network.store_b, '=HYPERLINK("http://x","y")', 8, 2, 1, days["b"])
    _sent(network.store_a, "Rentrée A", 5, 1, 0, days["old"])
    rollup.run(settle=0)
    return days


def _charts(page: str) -> dict[str, Any]:
    found = re.search(r'<script id="report-charts" type="application/json">(.*?)</script>', page, re.S)
    assert found, "the chart data is embedded with json_script"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _per_day(path: str, first: dt.date, last: dt.date) -> dict[dt.date, dict[str, int]]:
    rows = (
        DailyRollup.unscoped.filter(entity__path__startswith=path, day__gte=first, day__lte=last)
        .values("day")
        .annotate(sent=Sum("sent"), delivered=Sum("delivered"), opened=Sum("opened_unique"),
                  clicked=Sum("clicked_unique"))
    )  # fmt: skip
    return {r.pop("day"): r for r in rows}


@pytest.mark.django_db
def test_the_daily_chart_data_equals_the_rollups_with_the_previous_period(network, login, history):
    page = login(network, "hq_admin").get(reverse("reports:dashboard")).content.decode()
    daily = _charts(page)["daily"]
    today = timezone.localdate()
    first = today - dt.timedelta(days=29)
    assert daily["labels"] == [(first + dt.timedelta(days=i)).isoformat() for i in range(30)]
    before = first - dt.timedelta(days=30)
    now_sums = _per_day(network.hq.path, first, today)
    then_sums = _per_day(network.hq.path, before, first - dt.timedelta(days=1))
    assert now_sums and then_sums  # the fixture has rollups in both periods
    series = {s["key"]: s for s in daily["series"]}
    assert list(series) == ["sent", "delivered", "opened", "clicked"]
    for key, s in series.items():
        for i in range(30):
            assert s["current"][i] == now_sums.get(first + dt.timedelta(days=i), {}).get(key, 0)
            assert s["previous"][i] == then_sums.get(before + dt.timedelta(days=i), {}).get(key, 0)
    # hand-checked: 10 sent by store A three days ago, 8 by store B two days ago, 5 forty days ago
    assert series["sent"]["current"][26:29] == [10, 8, 3]
    assert series["clicked"]["current"][26:29] == [2, 1, 1]
    assert series["sent"]["previous"][19] == 5  # 40 days ago is day 20 of the previous period


@pytest.mark.django_db
def test_each_chart_has_a_caption_a_label_and_its_numbers_in_a_table(network, login, history):
    page = login(network, "hq_admin").get(reverse("reports:dashboard")).content.decode()
    for name in ("chart-daily", "chart-children"):
        figure = page.split(f'data-testid="{name}"', 1)[1].split("</figure>", 1)[0]
        assert "<figcaption" in figure and 'role="img"' in figure and "aria-label=" in figure
        assert f'data-testid="{name}-table"' in figure and "<details" in figure
    assert "vendor/chart.umd.min.js" in page and "reporting/charts.js" in page
    assert "<script>" not in page  # the CSP forbids inline scripts: data only, in a JSON block
    children = _charts(page)["children"]
    # region Nord: 3 unique clicks of 13 delivered (23.1 %), 0 of 5 before; region Sud: 1 of 8, none before
    assert children["labels"] == ["Région Nord", "Région Sud"]
    assert children["current"] == [23.1, 12.5] and children["previous"] == [0.0, None]
    table = page.split('data-testid="chart-children-table"', 1)[1].split("</table>", 1)[0]
    assert '<th scope="row">Région Nord</th><td>23.1</td><td>0.0</td>' in table
    assert '<th scope="row">Région Sud</th><td>12.5</td><td>—</td>' in table
    daily = page.split('data-testid="chart-daily-table"', 1)[1].split("</table>", 1)[0]
    assert daily.count("<tr>") == 31  # the header and one line per day
    three_days_ago = timezone.localdate() - dt.timedelta(days=3)
    line = daily.split(date_format(three_days_ago, "SHORT_DATE_FORMAT") + "</th>", 1)[1].split("</tr>", 1)[0]
    assert line.startswith("<td>10</td><td>10</td><td>4</td><td>2</td>")


@pytest.mark.django_db
def test_a_store_chart_holds_its_own_days_only(network, login, history):
    page = login(network, "store_a").get(reverse("reports:dashboard")).content.decode()
    data = _charts(page)
    sent = {s["key"]: s for s in data["daily"]["series"]}["sent"]["current"]
    assert sent[26:29] == [10, 0, 3]  # store B's 8 two days ago are not there
    assert 'data-testid="chart-children"' not in page and data["children"]["labels"] == []


@pytest.mark.django_db
def test_the_xlsx_opens_with_numbers_dates_and_formulas_as_text(network, login, history):
    client = login(network, "hq_admin")
    response = client.get(reverse("reports:export_xlsx", args=[network.hq.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(book.sheetnames) == 4
    figures, children, campaigns, daily = (book[name] for name in book.sheetnames)
    assert figures["B1"].is_date and figures["B1"].value.date() == timezone.localdate() - dt.timedelta(
        days=29
    )
    sent = next(row for row in figures.iter_rows(values_only=True) if row[0] == "Sent")
    assert sent[1] == 21 and sent[3] == 5 and isinstance(sent[1], int)
    revenue = next(row for row in figures.iter_rows(values_only=True) if row[0] == "Revenue")
    assert revenue[1] == 0 and not isinstance(revenue[1], str)
    names = [row[0] for row in campaigns.iter_rows(min_row=2, values_only=True)]
    assert '=HYPERLINK("http://x","y")' in names
    cell = next(c for c in campaigns["A"] if str(c.value).startswith("="))
    assert cell.data_type == "s" and cell.quotePrefix  # text, shown as typed, never run
    assert not any(c.data_type == "f" for sheet in book for row in sheet.iter_rows() for c in row)
    assert [row[0] for row in children.iter_rows(min_row=2, values_only=True)] == [
        "Région Nord",
        "Région Sud",
    ]
    rows = list(daily.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 30 and all(isinstance(r[0], dt.datetime) for r in rows)
    assert rows[26][1:5] == (10, 10, 4, 2) and rows[19][6] == 5
    assert Decimal(0) == Decimal(str(revenue[3]))


@pytest.mark.django_db
def test_the_csv_has_the_daily_table_and_a_store_cannot_export_another(network, login, history):
    text = login(network, "store_a").get(reverse("reports:export", args=[network.store_a.pk])).content
    lines = text.decode("utf-8-sig").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Day,"))
    assert len(lines[start + 1 :]) == 30
    assert lines[start + 27].split(",")[1:5] == ["10", "10", "4", "2"]
    client = login(network, "store_a")
    assert client.get(reverse("reports:export_xlsx", args=[network.store_b.pk])).status_code == 404
    assert client.get(reverse("reports:export_xlsx", args=[network.hq.pk])).status_code == 404
