"""Campaign pages: the store's campaigns and wizard, operations (HQ and store sides), approvals,
calendar, budgets and settings. Thin: forms validate, services write, selectors read. Objects come
from scoped managers: another store's or organisation's ids answer 404 exactly like missing ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from glocal.core.confirm import confirm_page, count_text
from glocal.core.forms import add_validation_errors
from glocal.core.http import ScopedRequest
from glocal.core.roles import Action, role_allows
from glocal.core.views_base import scoped
from glocal.creatives import selectors as creative_selectors
from glocal.creatives import zones as zonelib
from glocal.creatives.forms import PersonalisationForm
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Entity

from . import audience, selectors, services
from .forms import (
    CalendarFilter,
    CriteriaFields,
    NewCampaignForm,
    OperationForm,
    ScheduleForm,
    SettingsForm,
    SlotForm,
    WaveForm,
)
from .models import (
    ApprovalPolicy,
    ApprovalStep,
    Campaign,
    CampaignTransition,
    LedgerEntry,
    Operation,
    OperationWave,
    Participation,
    Proof,
)
from .states import STATE_LABELS, State

PREVIEW_WIDTHS = {"mobile": 375}
EDITABLE_STATES = (State.DRAFT, State.CHANGES_REQUESTED, State.SUBMITTED, State.APPROVED, State.SCHEDULED)


def _add_errors(form: Any, exc: ValidationError) -> None:
    add_validation_errors(form, exc, field_prefix="z_")  # a zone's field is named z_<key>


DATE_ERRORS = ("send_date", "send_time", "scheduled_at")


def _add_edit_errors(exc: ValidationError, zones_form: Any, schedule: Any, is_local: bool) -> list[str]:
    """The edit page's errors, each where it belongs: the send date at the date field, the content's
    at their zones (else above the content). Returns the audience's (shown in the audience section)."""
    if not hasattr(exc, "error_dict"):
        _add_errors(zones_form, exc)
        return []
    audience_errors: list[str] = []
    rest: dict[str, Any] = {}
    for where, errors in exc.error_dict.items():
        if where == "audience":
            audience_errors += [m for e in errors for m in e.messages]
        elif where in DATE_ERRORS and is_local:
            for error in errors:
                schedule.add_error("send_date", error)
        else:
            rest[where] = errors
    if rest:
        _add_errors(zones_form, ValidationError(rest))
    return audience_errors


def _flash(request: ScopedRequest, exc: ValidationError | PermissionDenied) -> None:
    for message in getattr(exc, "messages", None) or [_("You may not do that.")]:
        messages.error(request, message)


def _campaigns() -> Any:
    return Campaign.objects.select_related("entity__entity_type", "version__template", "operation", "wave")


def _templates() -> Any:
    return creative_selectors.templates().filter(
        status=ChannelTemplate.Status.PUBLISHED, channel__in=["email", "sms", "print"]
    )


# -- home and the wizard ----------------------------------------------------------------------------


@scoped(Action.CAMPAIGN_VIEW)
def home(request: ScopedRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    campaigns = _campaigns()
    if state in State._value2member_map_:
        campaigns = campaigns.filter(state=state)
    role = request.scope.role
    context = {
        "campaigns": campaigns.order_by("-updated_at")[:100],
        "operations": selectors.operations_for_scope().exclude(status=Operation.Status.CANCELLED)[:20],
        "queue": len(selectors.approval_queue()) if role_allows(role, Action.CAMPAIGN_APPROVE) else 0,
        "states": [(s.value, label) for s, label in STATE_LABELS.items()],
        "state": state,
    }
    return render(request, "campaigns/home.html", context)


@scoped(Action.CAMPAIGN_CREATE)
def new(request: ScopedRequest) -> HttpResponse:
    stores = Entity.objects.filter(entity_type__is_local=True, is_active=True).order_by("name")
    form = NewCampaignForm(request.POST or None, templates=_templates(), stores=stores)
    if request.method == "POST" and form.is_valid():
        store = (
            form.cleaned_data.get("store")
            or stores.filter(pk=request.scope.entity_id).first()
            or stores.first()
        )
        if store is None:
            form.add_error(None, _("Campaigns are sent by stores: choose a store."))
        else:
            try:
                campaign = services.campaign_create(
                    entity=store, template=form.cleaned_data["template"], name=form.cleaned_data["name"]
                )
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, getattr(exc, "messages", [_("You may not do that.")])[0])
            else:
                return redirect("campaigns:edit", pk=campaign.pk)
    return render(request, "campaigns/new.html", {"form": form, "step": 1})


def _zones_form(request: ScopedRequest, campaign: Campaign, data: Any = None) -> PersonalisationForm:
    zone_defs, _errors = zonelib.parse_zones(campaign.version.zones)
    initial = {f"z_{k}": v for k, v in zonelib.resolve(zone_defs, campaign.values).items()}
    return PersonalisationForm(data, initial=initial, zones=zone_defs, role=request.scope.role, prefix=None)


def _closing_pending(campaign: Campaign) -> bool:
    return campaign.operation is not None and selectors.closing_pending(campaign.operation)


@scoped(Action.CAMPAIGN_CREATE)
def edit(request: ScopedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(_campaigns(), pk=pk)
    if campaign.is_final:
        messages.error(request, services.NOT_EDITABLE)
        return redirect("campaigns:detail", pk=campaign.pk)
    is_local = campaign.kind == Campaign.Kind.LOCAL
    if not services.may_edit(campaign, request.scope.role):
        # Submitted, approved or scheduled, and this role may not submit: editing would withdraw it.
        if request.method == "POST":
            raise PermissionDenied(services.NOT_YOURS_TO_REOPEN)
        context = {
            "campaign": campaign,
            "is_local": is_local,
            "locked": True,
            "step": 2,
            "closing_pending": _closing_pending(campaign),
        }
        return render(request, "campaigns/edit.html", context)
    allowed = selectors.settings_for(campaign.organisation_id).local_criteria if is_local else ()
    data = request.POST if request.method == "POST" else None
    zones_form = _zones_form(request, campaign, data)
    local_when = timezone.localtime(campaign.scheduled_at) if campaign.scheduled_at else None
    schedule = ScheduleForm(
        data,
        initial={
            "name": campaign.name,
            "send_date": local_when.date() if local_when else None,
            "send_time": local_when.time() if local_when else None,
            "budget_line": campaign.budget_line,
            "holdout_percent": campaign.holdout_percent,
        },
        budget_lines=selectors.budget_lines(campaign.entity, campaign.budget_line) if is_local else None,
        holdout_range=services.holdout_range(selectors.settings_for(campaign.organisation_id))
        if is_local
        else None,
    )
    criteria_form = CriteriaFields(
        data,
        initial=CriteriaFields.initial_for(campaign.audience_criteria),
        allowed=allowed,
        sources=audience.source_choices(campaign.entity, campaign) if is_local else None,
    )
    audience_errors: list[str] = []
    if request.method == "POST":
        forms_ok = all([zones_form.is_valid(), schedule.is_valid(), criteria_form.is_valid()])
        if forms_ok:
            try:
                services.campaign_save(
                    campaign=campaign,
                    values=zones_form.cleaned_data["values"],
                    criteria=criteria_form.criteria() if is_local else None,
                    scheduled_at=schedule.cleaned_data["scheduled_at"] if is_local else None,
                    name=schedule.cleaned_data["name"] if is_local else None,
                    budget_line=schedule.cleaned_data.get("budget_line") if is_local else None,
                    holdout_percent=schedule.cleaned_data.get("holdout_percent") if is_local else None,
                    submit=request.POST.get("action") == "submit",
                )
            except ValidationError as exc:
                audience_errors = _add_edit_errors(exc, zones_form, schedule, is_local)
            except PermissionDenied:
                zones_form.add_error(None, _("Your role may not submit: your manager will."))
            else:
                campaign.refresh_from_db()
                if request.POST.get("action") == "submit":
                    messages.success(request, _("Submitted: %(state)s.") % {"state": campaign.state_label})
                    return redirect("campaigns:detail", pk=campaign.pk)
                messages.success(request, _("Saved."))
                return redirect("campaigns:edit", pk=campaign.pk)
    preview = creative_selectors.preview(campaign.version, campaign.entity, campaign.values)
    if campaign.channel == "sms":  # the text zones get the live SMS counter
        zones_form.for_sms(preview.rendered.text or "")
    context = {
        "campaign": campaign,
        "zones_form": zones_form,
        "schedule": schedule,
        "criteria_form": criteria_form,
        "is_local": is_local,
        "preview": preview,
        "criteria_text": audience.describe(campaign.audience_criteria),
        "can_submit": role_allows(request.scope.role, Action.CAMPAIGN_SUBMIT),
        # The creatives preview endpoint renders the template's latest published version.
        "live_preview": campaign.version_id
        == getattr(campaign.version.template.published_version(), "pk", None),
        "step": 2,
        "widths": PREVIEW_WIDTHS,
        "closing_pending": _closing_pending(campaign),
        "audience_errors": audience_errors,
        "date_conflicts": [c.text for c in selectors.conflicts(campaign)],
        **_deliverable_links(campaign),
    }
    return render(request, "campaigns/edit.html", context)


@scoped(Action.CAMPAIGN_VIEW)
def simulate(request: ScopedRequest, pk: int) -> HttpResponse:
    """The simulation panel. GET: the saved campaign. POST (htmx, while the form is being filled): the
    same with the form's audience, date and content applied in memory — nothing is saved."""
    campaign = get_object_or_404(_campaigns(), pk=pk)
    problems: list[str] = []
    if request.method == "POST" and not campaign.is_final:
        if campaign.kind == Campaign.Kind.LOCAL:
            allowed = selectors.settings_for(campaign.organisation_id).local_criteria
            sources = audience.source_choices(campaign.entity, campaign)
            criteria = CriteriaFields(request.POST, allowed=allowed, sources=sources)
            schedule = ScheduleForm(
                request.POST,
                initial={"name": campaign.name},
                budget_lines=selectors.budget_lines(campaign.entity, campaign.budget_line),
            )
            if criteria.is_valid():
                campaign.audience_criteria = criteria.criteria()
            if schedule.is_valid() and schedule.cleaned_data["scheduled_at"]:
                campaign.scheduled_at = schedule.cleaned_data["scheduled_at"]
            if schedule.is_valid() and "budget_line" in schedule.cleaned_data:
                campaign.budget_line = schedule.cleaned_data["budget_line"]
            unknown = [k for k in ("kind", "tags", "postcodes") if request.POST.get(k) and k not in allowed]
            if unknown:
                problems.append(
                    _("Head office does not allow the criterion “%(key)s”.") % {"key": unknown[0]}
                )
        zones_form = _zones_form(request, campaign, request.POST)
        if zones_form.is_valid():
            campaign.values = {**campaign.values, **zones_form.cleaned_data["values"]}
    sim = selectors.simulate(campaign)
    context = {
        "sim": sim,
        "campaign": campaign,
        "problems": problems,
        "deliverable": selectors.deliverable(campaign.version),
        "empty_reasons": _empty_reasons(campaign, sim),
        # The editor's date field shows the conflicts of the date being chosen (an out-of-band swap).
        "oob": request.method == "POST",
        "date_conflicts": sim.warnings,
    }
    return render(request, "campaigns/_simulation.html", context)


def _empty_reasons(campaign: Campaign, sim: selectors.Simulation) -> list[str]:
    """Why nobody would receive the campaign (empty: somebody would, or it addresses nobody)."""
    if campaign.is_final or not selectors.addresses_contacts(campaign):
        return []
    return selectors.empty_audience_reasons(sim)


@scoped(Action.CAMPAIGN_CREATE)
def audience_review(request: ScopedRequest, pk: int) -> HttpResponse:
    """The suggested audience: the store may remove contacts (never add any)."""
    campaign = get_object_or_404(_campaigns(), pk=pk)
    base = audience.matching(campaign.entity.path, campaign.audience_criteria).filter(
        audience.reachable_on(campaign.channel)
    )
    if request.method == "POST":
        keep = {int(i) for i in request.POST.getlist("keep") if i.isdigit()}
        shown = {int(i) for i in request.POST.getlist("shown") if i.isdigit()}
        excluded = ({int(i) for i in campaign.excluded_contacts} - shown) | (shown - keep)
        try:
            services.campaign_update(campaign=campaign, excluded=sorted(excluded))
        except (ValidationError, PermissionDenied) as exc:
            _flash(request, exc)
        else:
            messages.success(request, _("The audience was updated."))
        return redirect("campaigns:audience", pk=campaign.pk)
    contacts = list(base.order_by("last_name", "pk")[:200])
    excluded = {int(i) for i in campaign.excluded_contacts}
    context = {
        "campaign": campaign,
        "contacts": contacts,
        "excluded": excluded,
        "total": base.count(),
        "criteria_text": audience.describe(campaign.audience_criteria),
    }
    return render(request, "campaigns/audience.html", context)


@scoped(Action.CAMPAIGN_VIEW)
def detail(request: ScopedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(_campaigns(), pk=pk)
    role = request.scope.role
    proof = Proof.objects.filter(campaign=campaign).order_by("-round").first()
    context = {
        "campaign": campaign,
        "proof": proof,
        "preview": None
        if proof
        else creative_selectors.preview(campaign.version, campaign.entity, campaign.values),
        "steps": ApprovalStep.objects.filter(campaign=campaign)
        .select_related("proof", "decided_by")
        .order_by("-proof__round", "order"),
        "transitions": CampaignTransition.objects.filter(campaign=campaign).select_related("actor"),
        "ledger": LedgerEntry.objects.filter(campaign=campaign),
        "conflicts": selectors.conflicts(campaign),
        "current_step": selectors.current_step(campaign),
        "can_edit": campaign.state in EDITABLE_STATES and services.may_edit(campaign, role),
        "can_submit": role_allows(role, Action.CAMPAIGN_SUBMIT)
        and campaign.state in (State.DRAFT, State.CHANGES_REQUESTED),
        "can_cancel": role_allows(role, Action.CAMPAIGN_SUBMIT) and not campaign.is_final,
        "criteria_text": audience.describe(campaign.audience_criteria),
        "widths": PREVIEW_WIDTHS,
        "closing_pending": _closing_pending(campaign),
    }
    step = context["current_step"]
    context["can_decide"] = (
        bool(step) and role_allows(role, Action.CAMPAIGN_APPROVE) and selectors.can_decide(step, role)
    )
    context.update(_deliverable_links(campaign))
    if campaign.state in (State.DRAFT, State.CHANGES_REQUESTED):
        context["empty_reasons"] = _empty_reasons(campaign, selectors.simulate(campaign))
    if not context["steps"]:
        context["approved_without_step"] = selectors.approval_without_step(campaign)
    return render(request, "campaigns/detail.html", context)


PRINTABLE = (State.APPROVED, State.SCHEDULED, State.SENDING, State.SENT)


def _deliverable_links(campaign: Campaign) -> dict[str, Any]:
    """What the campaign produces, and the link to it: a print kit (posters, flyers) to download once
    approved, a direct-mail batch (letters) for the printer."""
    kind = selectors.deliverable(campaign.version)
    links: dict[str, Any] = {"deliverable": kind}
    if kind == selectors.PRINT_KIT and campaign.state in PRINTABLE:
        kit = reverse("print:print_kit_zip", args=[campaign.entity_id])
        links["kit_url"] = f"{kit}?campaign={campaign.pk}"
    elif kind == selectors.DIRECT_MAIL:
        links["direct_mail_url"] = reverse("print:direct_mail", args=[campaign.pk])
    return links


@require_POST
@scoped(Action.CAMPAIGN_SUBMIT)
def submit(request: ScopedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(_campaigns(), pk=pk)
    try:
        services.campaign_submit(campaign=campaign)
    except (ValidationError, PermissionDenied) as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("Submitted: %(state)s.") % {"state": campaign.state_label})
    return redirect("campaigns:detail", pk=campaign.pk)


@require_http_methods(["GET", "POST"])
@scoped(Action.CAMPAIGN_SUBMIT)
def cancel(request: ScopedRequest, pk: int) -> HttpResponse:
    """GET: what cancelling will do, asked first; POST: cancel."""
    campaign = get_object_or_404(_campaigns(), pk=pk)
    if request.method == "GET":
        details = [_("Nothing of it will be sent. A cancelled campaign cannot be reopened.")]
        if campaign.estimated_recipients:
            details.insert(
                0,
                ngettext(
                    "It was to reach %(n)s contact.",
                    "It was to reach %(n)s contacts.",
                    campaign.estimated_recipients,
                )
                % {"n": count_text(campaign.estimated_recipients)},
            )
        return confirm_page(
            request,
            title=_("Cancel the campaign “%(name)s”?") % {"name": campaign.name},
            consequence=_("Cancels the campaign of %(store)s.") % {"store": campaign.entity.name},
            details=details,
            back=reverse("campaigns:detail", args=[campaign.pk]),
            button=_("Cancel the campaign"),
            comment=True,
            refused=services.NOT_EDITABLE if campaign.is_final else "",
        )
    try:
        services.campaign_cancel(campaign=campaign, comment=request.POST.get("comment", "")[:500])
    except (ValidationError, PermissionDenied) as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("The campaign is cancelled."))
    return redirect("campaigns:detail", pk=campaign.pk)


# -- approvals --------------------------------------------------------------------------------------


QUEUE_SHOWN = 200  # queue items on one page (the oldest send dates first); filters narrow the rest
BULK_LIMIT = 1000  # proofs one bulk approval may carry


def _queue_filters(request: ScopedRequest) -> dict[str, Any]:
    level = request.GET.get("level", "")
    channel = request.GET.get("channel", "")
    op = request.GET.get("operation", "")
    return {
        "level": level if level in ApprovalStep.Level.values else "",
        "channel": channel if channel in ("email", "sms", "print") else "",
        "operation": int(op) if op.isdigit() else None,
        "store": request.GET.get("store", "").strip()[:60],
    }


def _queue_url(request: ScopedRequest, value: str) -> str:
    """``value`` when it is the approval queue's own address (with its filters), else the queue."""
    queue = reverse("campaigns:approvals")
    if value.startswith(queue) and url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return value
    return queue


@scoped(Action.CAMPAIGN_APPROVE)
def approvals(request: ScopedRequest) -> HttpResponse:
    """The queue: each proof's thumbnail (loaded lazily) and key figures, filters by operation and
    store, keyboard shortcuts; approving several goes through a confirmation page (``approvals_confirm``)
    whose form POSTs here."""
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("step") if i.isdigit()][:BULK_LIMIT]
        steps = list(ApprovalStep.objects.filter(pk__in=ids).select_related("campaign"))
        done, errors = services.approvals_bulk(steps=steps)
        if done:
            messages.success(
                request, ngettext("%(n)s proof approved.", "%(n)s proofs approved.", done) % {"n": done}
            )
        for error in errors:
            messages.error(request, error)
        return redirect(_queue_url(request, request.POST.get("back", "") or request.get_full_path()))
    f = _queue_filters(request)
    decidable = selectors.decidable_steps(level=f["level"], channel=f["channel"])
    operations, stores = selectors.queue_choices(decidable)
    queue = selectors.approval_queue(
        level=f["level"], channel=f["channel"], operation_id=f["operation"], store=f["store"]
    )
    params = request.GET.copy()
    context = {
        "queue": queue[:QUEUE_SHOWN],
        "total": len(queue),
        "level": f["level"],
        "channel": f["channel"],
        "operation": str(f["operation"] or ""),
        "store": f["store"],
        "operations": operations,
        "stores": stores,
        "levels": ApprovalStep.Level.choices[1:],
        "query": params.urlencode(),
        "here": request.get_full_path(),
    }
    return render(request, "campaigns/approvals.html", context)


@require_GET
@scoped(Action.CAMPAIGN_APPROVE)
def approvals_confirm(request: ScopedRequest) -> HttpResponse:
    """Before approving several proofs: how many campaigns, which ones. ``?step=`` the chosen ones,
    ``?all=1`` every one the queue shows with its filters. The form POSTs the ids to the queue."""
    f = _queue_filters(request)
    queue = selectors.approval_queue(
        level=f["level"], channel=f["channel"], operation_id=f["operation"], store=f["store"]
    )[:QUEUE_SHOWN]
    if request.GET.get("all") != "1":
        chosen = {int(i) for i in request.GET.getlist("step") if i.isdigit()}
        queue = [step for step in queue if step.pk in chosen]
    params = request.GET.copy()
    for key in ("step", "all"):
        params.pop(key, None)
    back = (
        f"{reverse('campaigns:approvals')}?{params.urlencode()}" if params else reverse("campaigns:approvals")
    )
    context = {"steps": queue, "count": len(queue), "count_text": count_text(len(queue)), "back": back}
    return render(request, "campaigns/approvals_confirm.html", context)


@require_GET
@scoped(Action.CAMPAIGN_VIEW)
@xframe_options_sameorigin
def proof(request: ScopedRequest, pk: int) -> HttpResponse:
    """A proof as submitted, for its thumbnail in the queue (a frame of our own pages): the email's
    HTML or the SMS text in a page of its own, sandboxed (no script, no form, no link followed), or
    the first page of a print proof as a PNG."""
    found = get_object_or_404(Proof.objects.select_related("campaign__entity", "version__template"), pk=pk)
    if found.version.template.channel == "print":
        png = selectors.print_proof_png(found)
        if png is None:
            raise Http404
        response = HttpResponse(png, content_type="image/png")
    else:
        response = render(request, "campaigns/proof_frame.html", {"proof": found})
    response["Content-Security-Policy"] = PROOF_POLICY
    response["Cache-Control"] = "private, max-age=3600"  # a proof never changes
    response["X-Content-Type-Options"] = "nosniff"
    return response


# A proof is shown as its recipients would see it (remote images), inside a sandbox: no script, no
# plugin, no form; only our pages may frame it.
PROOF_POLICY = (
    "default-src 'none'; img-src 'self' data: https:; style-src 'unsafe-inline'; font-src data: https:; "
    "frame-ancestors 'self'; sandbox"
)


@require_POST
@scoped(Action.CAMPAIGN_APPROVE)
def decide(request: ScopedRequest, pk: int) -> HttpResponse:
    """Approve the current step or request changes (with a comment). From the queue (``next``: the
    queue's address), back to the queue; else to the campaign."""
    step = get_object_or_404(ApprovalStep.objects.select_related("campaign"), pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        services.approval_decide(step=step, approve=approve, comment=request.POST.get("comment", ""))
    except (ValidationError, PermissionDenied) as exc:
        _flash(request, exc)
    else:
        name = step.campaign.name
        messages.success(
            request,
            _("Approved: %(name)s.") % {"name": name}
            if approve
            else _("Changes requested: %(name)s.") % {"name": name},
        )
    if request.POST.get("next"):
        return redirect(_queue_url(request, request.POST["next"]))
    return redirect("campaigns:detail", pk=step.campaign_id)


# -- operations -------------------------------------------------------------------------------------


@scoped(Action.CAMPAIGN_VIEW)
def operations(request: ScopedRequest) -> HttpResponse:
    ops = selectors.operations_for_scope()
    return render(request, "campaigns/operations.html", {"operations": ops})


@scoped(Action.OPERATION_MANAGE)
def operation_new(request: ScopedRequest) -> HttpResponse:
    form = OperationForm(request.POST or None)
    hq = Entity.objects.get(pk=request.scope.entity_id)
    criteria = CriteriaFields(request.POST or None, prefix="aud", sources=audience.source_choices(hq))
    if request.method == "POST" and form.is_valid() and criteria.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "eligible_entities"}
        fields["audience_criteria"] = criteria.criteria()
        try:
            op = services.operation_create(
                fields=fields, eligible_entities=list(form.cleaned_data["eligible_entities"])
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The operation was created. Add its waves."))
            return redirect("campaigns:operation", pk=op.pk)
    return render(request, "campaigns/operation_new.html", {"form": form, "criteria": criteria})


def _operation(request: ScopedRequest, pk: int) -> Operation:
    return get_object_or_404(selectors.operations_for_scope(), pk=pk)


@scoped(Action.CAMPAIGN_VIEW)
def operation(request: ScopedRequest, pk: int) -> HttpResponse:
    op = _operation(request, pk)
    role = request.scope.role
    local = selectors.is_local_scope()
    context: dict[str, Any] = {
        "op": op,
        "closing_pending": selectors.closing_pending(op),
        "waves": selectors.waves_of(op),
        "local": local,
        "now": timezone.now(),
        "criteria_text": audience.describe(op.audience_criteria),
        "can_manage": role_allows(role, Action.OPERATION_MANAGE) and not local,
    }
    if local:
        context["participation"] = Participation.objects.filter(
            operation=op, entity_id=request.scope.entity_id
        ).first()
        context["my_campaigns"] = (
            _campaigns().filter(operation=op).exclude(state=State.CANCELLED).order_by("wave__send_at")
        )
        context["can_decide"] = (
            role_allows(role, Action.CAMPAIGN_SUBMIT) and timezone.now() < op.subscription_deadline
        )
    else:
        context["overview"] = selectors.participation_overview(op)
        context["wave_form"] = (
            WaveForm(templates=_templates()) if op.status == Operation.Status.DRAFT else None
        )
    return render(request, "campaigns/operation.html", context)


@require_POST
@scoped(Action.OPERATION_MANAGE)
def wave_new(request: ScopedRequest, pk: int) -> HttpResponse:
    op = _operation(request, pk)
    form = WaveForm(request.POST, templates=_templates())
    if form.is_valid():
        version = form.cleaned_data["template"].published_version()
        try:
            wave = services.wave_add(
                operation=op,
                name=form.cleaned_data["name"],
                version=version,
                send_at=form.cleaned_data["send_at"],
            )
        except ValidationError as exc:
            _flash(request, exc)
        else:
            messages.success(request, _("Wave added. Set head office's default content."))
            return redirect("campaigns:wave_defaults", pk=wave.pk)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("campaigns:operation", pk=op.pk)


@scoped(Action.OPERATION_MANAGE)
def wave_defaults(request: ScopedRequest, pk: int) -> HttpResponse:
    wave = get_object_or_404(
        OperationWave.objects.select_related("operation__owner", "version__template"), pk=pk
    )
    zone_defs, _errors = zonelib.parse_zones(wave.version.zones)
    initial = {f"z_{k}": v for k, v in zonelib.resolve(zone_defs, wave.zone_defaults).items()}
    form = PersonalisationForm(
        request.POST or None, initial=initial, zones=zone_defs, role=request.scope.role
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.wave_set_defaults(wave=wave, values=form.cleaned_data["values"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Default content saved."))
            return redirect("campaigns:operation", pk=wave.operation_id)
    store = Entity.objects.filter(entity_type__is_local=True, is_active=True).first() or wave.operation.owner
    preview = creative_selectors.preview(wave.version, store, wave.zone_defaults)
    if wave.version.template.channel == "sms":  # the text zones get the live SMS counter
        form.for_sms(preview.rendered.text or "")
    return render(
        request,
        "campaigns/wave_defaults.html",
        {"wave": wave, "form": form, "preview": preview, "widths": PREVIEW_WIDTHS},
    )


@require_http_methods(["GET", "POST"])
@scoped(Action.OPERATION_MANAGE)
def operation_publish(request: ScopedRequest, pk: int) -> HttpResponse:
    """GET: how many stores publishing opens the operation to, asked first; POST: publish."""
    op = _operation(request, pk)
    if request.method == "GET":
        stores = selectors.eligible_stores(op).count() if op.status == Operation.Status.DRAFT else 0
        if op.participation == Operation.Mode.OPT_IN:
            detail = _("Each store is asked whether it takes part.")
        else:
            detail = _(
                "Each store takes part at once: its campaigns are created in draft with your default content."
            )
        return confirm_page(
            request,
            title=_("Publish “%(name)s” to the stores?") % {"name": op.name},
            consequence=ngettext("Publishes to %(n)s store.", "Publishes to %(n)s stores.", stores)
            % {"n": count_text(stores)},
            details=[detail, _("Once published, the operation's waves can no longer be changed.")],
            back=reverse("campaigns:operation", args=[op.pk]),
            button=_("Publish to the stores"),
            danger=False,
            refused=""
            if op.status == Operation.Status.DRAFT
            else _("Only a draft operation can be published."),
        )
    try:
        services.operation_publish(operation=op)
    except ValidationError as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("The operation is open to its stores."))
    return redirect("campaigns:operation", pk=op.pk)


@require_http_methods(["GET", "POST"])
@scoped(Action.OPERATION_MANAGE)
def operation_cancel(request: ScopedRequest, pk: int) -> HttpResponse:
    """GET: how many store campaigns cancelling the operation cancels, asked first; POST: cancel."""
    op = _operation(request, pk)
    if request.method == "GET":
        count = Campaign.objects.filter(operation=op).exclude(state__in=[State.CANCELLED, State.SENT]).count()
        return confirm_page(
            request,
            title=_("Cancel the operation “%(name)s”?") % {"name": op.name},
            consequence=ngettext("Cancels %(n)s store campaign.", "Cancels %(n)s store campaigns.", count)
            % {"n": count_text(count)},
            details=[
                _("Nothing of the operation will be sent; campaigns already sent stay as they are."),
                _("A cancelled operation cannot be reopened."),
            ],
            back=reverse("campaigns:operation", args=[op.pk]),
            button=_("Cancel the operation"),
            comment=True,
            refused=_("The operation is already cancelled.")
            if op.status == Operation.Status.CANCELLED
            else "",
        )
    count = services.operation_cancel(operation=op, comment=request.POST.get("comment", "")[:500])
    messages.success(
        request, _("The operation is cancelled (%(n)s store campaigns cancelled).") % {"n": count}
    )
    return redirect("campaigns:operation", pk=op.pk)


@require_POST
@scoped(Action.CAMPAIGN_SUBMIT)
def participate(request: ScopedRequest, pk: int) -> HttpResponse:
    op = _operation(request, pk)
    store = Entity.objects.filter(pk=request.scope.entity_id, entity_type__is_local=True).first()
    if store is None:
        raise Http404
    subscribe = request.POST.get("answer") == "yes"
    try:
        services.participation_decide(operation=op, entity=store, subscribe=subscribe)
    except (ValidationError, PermissionDenied) as exc:
        _flash(request, exc)
    else:
        messages.success(
            request, _("You take part. Personalise your content.") if subscribe else _("You opted out.")
        )
    return redirect("campaigns:operation", pk=op.pk)


# -- calendar ---------------------------------------------------------------------------------------


@scoped(Action.CAMPAIGN_VIEW)
def calendar(request: ScopedRequest) -> HttpResponse:
    form = CalendarFilter(request.GET or None)
    view, day, entity, channel = "month", timezone.localdate(), None, ""
    if form.is_valid():
        view = form.cleaned_data["view"] or "month"
        day = form.cleaned_data["date"] or day
        entity = form.cleaned_data["entity"]
        channel = form.cleaned_data["channel"]
    if view == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=6)
        items = selectors.calendar_items(start, end, entity=entity, channel=channel)
        days = [start + dt.timedelta(days=i) for i in range(7)]
        grid = [[selectors.CalendarDay(d, True, [i for i in items if i.start <= d <= i.end]) for d in days]]
        prev_day, next_day = start - dt.timedelta(days=7), start + dt.timedelta(days=7)
        title = _("Week of %(day)s") % {"day": start.strftime("%d/%m/%Y")}
    else:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        items = selectors.calendar_items(
            first - dt.timedelta(days=7), last + dt.timedelta(days=7), entity=entity, channel=channel
        )
        grid = selectors.month_grid(first.year, first.month, items)
        prev_day, next_day = (first - dt.timedelta(days=1)).replace(day=1), last + dt.timedelta(days=1)
        title = first.strftime("%m/%Y")
    params = request.GET.copy()
    params.pop("date", None)
    context = {
        "form": form,
        "grid": grid,
        "weeks": selectors.week_rows(grid, items),
        "view": view,
        "title": title,
        "prev": prev_day.isoformat(),
        "next": next_day.isoformat(),
        "query": params.urlencode(),
        "today": timezone.localdate(),
    }
    return render(request, "campaigns/calendar.html", context)


@scoped(Action.CALENDAR_MANAGE)
def slot_new(request: ScopedRequest) -> HttpResponse:
    form = SlotForm(request.POST or None, initial={"entity": request.scope.entity_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.slot_create(fields=form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Added to the calendar."))
            return redirect("campaigns:calendar")
    return render(
        request, "campaigns/form.html", {"form": form, "title": _("Reserve a slot or set a blackout")}
    )


# -- settings (budgets: budget_views.py) -------------------------------------------------------------


@scoped(Action.OPERATION_MANAGE)
def approval_policies(request: ScopedRequest) -> HttpResponse:
    """HQ's approval policy per template, for local campaigns (every policy, multi-step included)."""
    templates = list(_templates())
    if request.method == "POST":
        for template in templates:
            value = request.POST.get(f"policy-{template.pk}", "")
            if value and value != selectors.template_policy(template):
                try:
                    services.template_policy_set(template=template, policy=value)
                except ValidationError as exc:
                    _flash(request, exc)
        messages.success(request, _("Approval policies saved."))
        return redirect("campaigns:policies")
    rows = [(t, selectors.template_policy(t)) for t in templates]
    return render(request, "campaigns/policies.html", {"rows": rows, "choices": ApprovalPolicy.choices})


@scoped(Action.BUDGET_MANAGE)
def campaign_settings(request: ScopedRequest) -> HttpResponse:
    instance = selectors.settings_for(request.scope.organisation_id)
    form = SettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(changes={f: form.cleaned_data[f] for f in SettingsForm.Meta.fields})
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("campaigns:settings")
    return render(request, "campaigns/form.html", {"form": form, "title": _("Campaign settings")})
