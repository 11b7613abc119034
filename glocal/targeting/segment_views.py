"""The no-code segment builder (htmx: add / remove a criterion row, live count) and HQ's guardrails.

Criteria travel as parallel lists ``field`` / ``op`` / ``value`` / ``days`` and are checked by the
same service the API and jobs use (``segments.validate_criteria``): the form refuses what the
guardrails refuse, with the same message."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from glocal.core.http import ScopedRequest
from glocal.core.roles import Action
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import segments
from .forms import RequiredCriteriaForm, SegmentMetaForm, SegmentPolicyForm
from .models import Segment


def _rows_from_post(request: ScopedRequest) -> list[dict[str, Any]]:
    post = request.POST
    fields, ops = post.getlist("field"), post.getlist("op")
    values, days = post.getlist("value"), post.getlist("days")
    rows = []
    for index, name in enumerate(fields[: segments.MAX_CRITERIA_HARD + 1]):
        row: dict[str, Any] = {
            "field": name,
            "op": ops[index] if index < len(ops) else "",
            "value": values[index] if index < len(values) else "",
        }
        if index < len(days) and days[index]:
            row["days"] = days[index]
        rows.append(row)
    remove = post.get("remove", "")
    if remove.isdigit() and int(remove) < len(rows):
        rows.pop(int(remove))
    if post.get("add"):
        rows.append({"field": "", "op": "", "value": ""})
    return rows


def _row_context(request: ScopedRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with the fields and operators the user may pick (HQ's guardrails applied)."""
    scope = request.scope
    fields = segments.fields_for(scope)
    out = []
    for index, row in enumerate(rows):
        spec = fields.get(row.get("field", ""))
        ops = segments.operators_for(scope, spec) if spec else ()
        value = row.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out.append(
            {
                "index": index,
                "field": row.get("field", ""),
                "op": row.get("op", "") if row.get("op", "") in ops else (ops[0] if ops else ""),
                "value": value,
                "days": row.get("days", segments.DEFAULT_DAYS) if spec and spec.period else "",
                "spec": spec,
                "ops": [(op, segments.OPERATORS[op]) for op in ops],
            }
        )
    return out


def _complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with a field chosen (a new empty row does not count yet)."""
    return [r for r in rows if r.get("field")]


def _left_out_text(reason: str, n: int) -> str:
    """Why ``n`` contacts are not counted, in words."""
    shown = number_format(n, force_grouping=True)
    if reason == "birth_date":
        return ngettext(
            "%(n)s contact has no birth date and is not counted.",
            "%(n)s contacts have no birth date and are not counted.",
            n,
        ) % {"n": shown}
    if reason == "postcode":
        return ngettext(
            "%(n)s contact has no postcode and is not counted.",
            "%(n)s contacts have no postcode and are not counted.",
            n,
        ) % {"n": shown}
    if reason == "catchment":
        return ngettext(
            "%(n)s contact belongs to a store without a catchment area (store profile) and is not counted.",
            "%(n)s contacts belong to a store without a catchment area (store profile) and are not counted.",
            n,
        ) % {"n": shown}
    return ngettext(
        "%(n)s contact lacks what a criterion needs and is not counted.",
        "%(n)s contacts lack what a criterion needs and are not counted.",
        n,
    ) % {"n": shown}


def _count_context(request: ScopedRequest, rows: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    """The live count of the rows filled so far (a row still without a value is left out and
    flagged, not an error: the person is typing), and the contacts a criterion could not judge (no
    birth date for an age…), said rather than silently dropped."""
    ready = [r for r in _complete(rows) if str(r.get("value", "")).strip()]
    pending = len(_complete(rows)) - len(ready)
    try:
        by_store = segments.segment_counts_by_store(ready, channel or None)
        left_out = segments.segment_left_out(ready, channel or None)
    except ValidationError as exc:
        return {"errors": exc.messages}
    names = dict(Entity.objects.filter(pk__in=list(by_store)).values_list("pk", "name"))
    table = sorted(((names.get(pk, f"#{pk}"), n) for pk, n in by_store.items()), key=lambda t: (-t[1], t[0]))
    return {
        "total": sum(by_store.values()),
        "by_store": table[:50],
        "stores": len(table),
        "channel": channel,
        "pending": pending,
        "left_out": [_left_out_text(reason, n) for reason, n in left_out.items()],
    }


def _builder_context(request: ScopedRequest, rows: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    scope = request.scope
    policy = segments.policy_for(scope.organisation_id)
    guarded = segments.is_guarded(scope)
    fields = segments.fields_for(scope)
    return {
        "rows": _row_context(request, rows),
        "fields": [(k, f.label) for k, f in fields.items()],
        "guarded": guarded,
        "required": [segments.describe_criterion(r, fields) for r in policy.required_criteria]
        if guarded
        else [],
        "max_criteria": segments.criterion_limit(policy) if guarded else segments.MAX_CRITERIA_HARD,
        "count": _count_context(request, rows, channel),
    }


@scoped(Action.SEGMENT_MANAGE)
def segment_list(request: ScopedRequest) -> HttpResponse:
    items = list(Segment.objects.select_related("entity").order_by("name", "id")[:500])
    return render(request, "targeting/segments/list.html", {"segments": items})


def _builder(request: ScopedRequest, segment: Segment | None) -> HttpResponse:
    if request.method == "POST":
        meta = SegmentMetaForm(request.POST)
        rows = _rows_from_post(request)
        meta.is_valid()
        channel = meta.cleaned_data.get("channel", "")
        if request.POST.get("save"):
            try:
                saved = segments.segment_save(
                    name=meta.cleaned_data.get("name", ""),
                    criteria=_complete(rows),
                    channel=channel,
                    segment=segment,
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for name, errors in exc.message_dict.items():
                        meta.add_error(name if name in meta.fields else None, errors)
                else:
                    meta.add_error(None, exc.messages)
            else:
                messages.success(request, _("Segment saved."))
                return redirect("targeting:segment", pk=saved.pk)
    else:
        initial = {"name": segment.name, "channel": segment.channel} if segment else {}
        meta = SegmentMetaForm(initial=initial)
        rows = list(segment.criteria) if segment else _first_rows(request)
        channel = segment.channel if segment else ""
    context = {"meta": meta, "segment": segment, **_builder_context(request, rows, channel)}
    return render(request, "targeting/segments/builder.html", context)


def _first_rows(request: ScopedRequest) -> list[dict[str, Any]]:
    """A new segment's rows: HQ's required criteria for a guarded user (to keep or make stricter), then
    an empty one."""
    required = []
    if segments.is_guarded(request.scope):
        required = [dict(r) for r in segments.policy_for(request.scope.organisation_id).required_criteria]
    return [*required, {"field": "", "op": "", "value": ""}]


@scoped(Action.SEGMENT_MANAGE)
def segment_new(request: ScopedRequest) -> HttpResponse:
    return _builder(request, None)


@scoped(Action.SEGMENT_MANAGE)
def segment_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    return _builder(request, get_object_or_404(Segment.objects.all(), pk=pk))


@require_POST
@scoped(Action.SEGMENT_MANAGE)
def segment_delete(request: ScopedRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.all(), pk=pk)
    segments.segment_delete(segment=segment)
    messages.success(request, _("Segment deleted."))
    return redirect("targeting:segments")


@require_POST
@scoped(Action.SEGMENT_MANAGE)
def segment_rows(request: ScopedRequest) -> HttpResponse:
    """htmx: the criterion rows (after add / remove / a field change) and the count."""
    rows = _rows_from_post(request)
    context = _builder_context(request, rows, request.POST.get("channel", ""))
    return render(request, "targeting/segments/_criteria.html", context)


@require_POST
@scoped(Action.SEGMENT_MANAGE)
def segment_count(request: ScopedRequest) -> HttpResponse:
    """htmx: the live count while editing values."""
    rows = _rows_from_post(request)
    context = {"count": _count_context(request, rows, request.POST.get("channel", ""))}
    return render(request, "targeting/segments/_count.html", context)


@scoped(Action.MARKETING_RULES)
def segment_policy(request: ScopedRequest) -> HttpResponse:
    org_id = request.scope.organisation_id
    policy = segments.policy_for(org_id)
    initial = {
        "allowed_fields": policy.allowed_fields,
        "allowed_operators": policy.allowed_operators,
        "max_criteria": policy.max_criteria,
    }
    data = request.POST or None
    form = SegmentPolicyForm(data, initial=initial, organisation_id=org_id)
    required = RequiredCriteriaForm(data, organisation_id=org_id, criteria=list(policy.required_criteria))
    if request.method == "POST" and form.is_valid() and required.is_valid():
        try:
            segments.policy_update(**form.cleaned_data, required_criteria=required.criteria())
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Segment guardrails saved."))
            return redirect("targeting:segment_policy")
    return render(request, "targeting/segments/policy.html", {"form": form, "required": required})
