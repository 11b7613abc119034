"""Results pages: the acting node's dashboard, any node of its subtree (drill-down), their CSV, and HQ's
attribution settings. Read from the rollups only (``selectors``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from glocal.core.http import ScopedRequest
from glocal.core.roles import Action, role_allows
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import export as csv_export
from . import selectors, services
from .forms import ReportingSettingsForm


def _report(request: ScopedRequest, entity: Entity) -> HttpResponse:
    period = selectors.period_from(request.GET.get("start"), request.GET.get("end"))
    report = selectors.entity_report(entity, period)
    query = f"?start={period.start.isoformat()}&end={period.end.isoformat()}"
    daily = selectors.daily_series(entity, period)
    context: dict[str, Any] = {
        "report": report,
        "daily": daily,
        "daily_header": csv_export.daily_header(),
        "daily_rows": csv_export.daily_rows(daily),
        "charts": chart_data(report, daily),
        "previous": period.previous(),
        "query": query,
        "rows": csv_export.figure_rows(report.current, report.previous),
        "children": [_line(line) for line in report.children],
        "campaigns": [_line(line) for line in report.campaigns],
        "is_home": entity.pk == request.scope.entity_id,
        "parent": entity.parent if entity.parent_id and entity.pk != request.scope.entity_id else None,
        "can_configure": role_allows(request.scope.role, Action.MARKETING_RULES),
    }
    return render(request, "reporting/dashboard.html", context)


LINE_FIGURES = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "unsubscribed",
    "converted",
    "revenue",
    "cost",
    "roi",
)


def _line(line: selectors.Line) -> dict[str, Any]:
    rows = {r.key: r for r in csv_export.figure_rows(line.current, line.previous)}
    return {"label": line.label, "url": line.url, "rows": [rows[k] for k in LINE_FIGURES]}


def chart_data(report: selectors.Report, daily: selectors.Daily) -> dict[str, Any]:
    """What charts.js draws (embedded with ``json_script``): the daily lines of this period and the
    previous one, and the child nodes' click rates. The same numbers are in the tables under the charts."""
    previous = _("previous period")
    return {
        "daily": {
            "labels": [d.isoformat() for d in daily.days],
            "series": [
                {
                    "key": key,
                    "label": str(label),
                    "previousLabel": f"{label} ({previous})",
                    "current": [getattr(f, attr) for f in daily.current],
                    "previous": [getattr(f, attr) for f in daily.previous],
                }
                for key, label, attr in csv_export.DAILY
            ],
        },
        "children": {
            "labels": [line.label for line in report.children],
            "label": _("Click rate (%)"),
            "previousLabel": _("Click rate (%), previous period"),
            "current": [line.current.click_rate for line in report.children],
            "previous": [line.previous.click_rate for line in report.children],
        },
    }


@scoped(Action.CAMPAIGN_VIEW)
def dashboard(request: ScopedRequest) -> HttpResponse:
    """The acting node's results: a store its own, a region or HQ its subtree and each child node."""
    return _report(request, get_object_or_404(Entity.objects, pk=request.scope.entity_id))


@scoped(Action.CAMPAIGN_VIEW)
def entity(request: ScopedRequest, pk: int) -> HttpResponse:
    """A node of the acting scope's subtree (another store's, or above the scope: 404)."""
    return _report(request, get_object_or_404(Entity.objects, pk=pk))


@scoped(Action.CAMPAIGN_VIEW)
def export(request: ScopedRequest, pk: int) -> HttpResponse:
    node = get_object_or_404(Entity.objects, pk=pk)
    period = selectors.period_from(request.GET.get("start"), request.GET.get("end"))
    report = selectors.entity_report(node, period, campaign_limit=10_000)
    daily = selectors.daily_series(node, period)
    response = HttpResponse(csv_export.report_csv(report, daily), content_type="text/csv; charset=utf-8")
    name = f"results-{node.code or node.pk}-{period.start}-{period.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{csv_export.safe_filename(name)}"'
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@scoped(Action.CAMPAIGN_VIEW)
def export_xlsx(request: ScopedRequest, pk: int) -> HttpResponse:
    """The page's tables as a workbook (one sheet per table, numbers as numbers, days as dates)."""
    node = get_object_or_404(Entity.objects, pk=pk)
    period = selectors.period_from(request.GET.get("start"), request.GET.get("end"))
    report = selectors.entity_report(node, period, campaign_limit=10_000)
    daily = selectors.daily_series(node, period)
    response = HttpResponse(csv_export.report_xlsx(report, daily), content_type=XLSX)
    name = f"results-{node.code or node.pk}-{period.start}-{period.end}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{csv_export.safe_filename(name)}"'
    return response


@scoped(Action.MARKETING_RULES)
def reporting_settings(request: ScopedRequest) -> HttpResponse:
    instance = selectors.settings_row(request.scope.organisation_id)
    form = ReportingSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.settings_save(form=form)
        flash.success(request, _("Attribution settings saved. They apply to purchases from now on."))
        return redirect("reports:settings")
    return render(request, "reporting/settings.html", {"form": form, "title": _("Attribution")})
