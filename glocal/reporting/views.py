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
    context: dict[str, Any] = {
        "report": report,
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
    response = HttpResponse(csv_export.report_csv(report), content_type="text/csv; charset=utf-8")
    name = f"results-{node.code or node.pk}-{period.start}-{period.end}.csv"
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
