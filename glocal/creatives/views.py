"""Template pages: HQ list/editor/publish, the store's personalisation screen with live preview.

Thin: forms validate, services write, selectors read. Objects come from scoped managers: another
store's or organisation's ids answer 404 exactly like missing ones.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.core.forms import add_validation_errors
from glocal.core.http import ScopedRequest
from glocal.core.roles import Action, role_allows
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import carry, rendering, selectors, services
from . import zones as zonelib
from .forms import PersonalisationForm, SettingsForm, TemplateCreateForm, VersionForm
from .models import Channel, ChannelTemplate, Personalisation, TemplateVersion

PREVIEW_WIDTHS = {"desktop": 640, "mobile": 375}


def _add_errors(form: Any, exc: ValidationError) -> None:
    add_validation_errors(form, exc, field_prefix="z_")  # a zone's field is named z_<key>


@scoped(Action.TEMPLATE_VIEW)
def template_list(request: ScopedRequest) -> HttpResponse:
    return render(request, "creatives/template_list.html", {"templates": selectors.templates()})


@scoped(Action.TEMPLATE_MANAGE)
def template_create(request: ScopedRequest) -> HttpResponse:
    form = TemplateCreateForm(request.POST or None, initial={"entity": request.scope.entity_id})
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_create(
                channel=form.cleaned_data["channel"],
                name=form.cleaned_data["name"],
                entity=form.cleaned_data["entity"],
                description=form.cleaned_data["description"],
                approval_policy=form.cleaned_data["approval_policy"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The template was created."))
            return redirect("creatives:edit", pk=template.pk)
    return render(request, "creatives/template_create.html", {"form": form})


def _can_manage(request: ScopedRequest, template: ChannelTemplate) -> bool:
    return role_allows(request.scope.role, Action.TEMPLATE_MANAGE) and request.scope.covers_path(
        template.entity.path
    )


@scoped(Action.TEMPLATE_VIEW)
def template_detail(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    published = template.published_version()
    zone_defs, _errors = zonelib.parse_zones(published.zones if published else [])
    can_manage = _can_manage(request, template)
    draft = selectors.draft_of(template) if can_manage else None
    active = template.status != ChannelTemplate.Status.ARCHIVED
    context = {
        "template": template,
        "versions": selectors.versions(template),
        "published": published,
        "zones": zone_defs,
        "can_manage": can_manage,
        "can_personalise": role_allows(request.scope.role, Action.TEMPLATE_PERSONALISE),
        # Before publishing: the draft's checks, what changes, and each store's values carried over.
        "plan": selectors.publish_plan(template, draft) if draft is not None and active else None,
        "personalisations": Personalisation.objects.filter(version__template=template)
        .select_related("entity", "version", "carried_from")
        .order_by("entity__name", "-version__number")[:200],
    }
    return render(request, "creatives/template_detail.html", context)


def _store_from(request: ScopedRequest, template: ChannelTemplate, value: Any) -> Entity | None:
    stores = selectors.personalisable_stores(template)
    if value in (None, ""):
        own = stores.filter(pk=request.scope.entity_id).first()
        return own
    try:
        return stores.get(pk=int(value))
    except (ValueError, TypeError, Entity.DoesNotExist):
        raise Http404 from None


@scoped(Action.TEMPLATE_MANAGE)
def template_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    if not request.scope.covers_path(template.entity.path):
        raise PermissionDenied
    version = template.latest_version()
    if version is None:  # every template is created with a first version
        raise Http404
    initial = {
        "source": version.source,
        "subject": version.subject,
        "preheader": version.preheader,
        "text": version.text,
        "zones_json": json.dumps(version.zones, indent=2, ensure_ascii=False),
    }
    form = VersionForm(request.POST or None, initial=initial, channel=template.channel)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.version_save(
                template=template,
                source=data["source"],
                zones_data=data["zones_json"],
                subject=data.get("subject", ""),
                preheader=data.get("preheader", ""),
                text=data.get("text", ""),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Draft v%(n)s saved.") % {"n": version.number})
            if "publish" in request.POST:
                return template_publish(request, pk)
            return redirect("creatives:edit", pk=template.pk)
    stores = selectors.personalisable_stores(template)
    store = _store_from(request, template, request.GET.get("store")) or stores.first()
    preview = selectors.preview(version, store, {}) if store else None
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    context = {
        "template": template,
        "version": version,
        "form": form,
        "zones": zone_defs,
        "stores": stores[:500],
        "store": store,
        "preview": preview,
        "widths": PREVIEW_WIDTHS,
    }
    return render(request, "creatives/template_edit.html", context)


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def draft_preview(request: ScopedRequest, pk: int) -> HttpResponse:
    """The editor's live preview: the unsaved source and zones, rendered for a chosen store."""
    template = get_object_or_404(selectors.templates(), pk=pk)
    if not request.scope.covers_path(template.entity.path):
        raise PermissionDenied
    form = VersionForm(request.POST, channel=template.channel)
    store = _store_from(request, template, request.POST.get("store")) or (
        selectors.personalisable_stores(template).first()
    )
    if not form.is_valid() or store is None:
        problems = [str(e) for errors in form.errors.values() for e in errors]
        return render(request, "creatives/_draft_problems.html", {"problems": problems, "store": store})
    data = form.cleaned_data
    draft = TemplateVersion(
        organisation_id=template.organisation_id,
        template=template,
        number=0,
        source=data["source"],
        subject=data.get("subject", ""),
        preheader=data.get("preheader", ""),
        text=data.get("text", ""),
        zones=data["zones_json"],
    )
    result = selectors.preview(draft, store, {})
    return render(request, "creatives/_preview.html", {"preview": result, "widths": PREVIEW_WIDTHS})


def _published(request: ScopedRequest, version: TemplateVersion) -> None:
    """The publication's result: the version, and each store's values carried over."""
    text = _("Version %(n)s is published.") % {"n": version.number}
    summary = selectors.carry_summary(selectors.carried_into(version))
    messages.success(request, f"{text} {summary}".strip())


def _refused(request: ScopedRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def template_publish(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    try:
        version = services.version_publish(
            template=template, accept_warnings=request.POST.get("accept_warnings") == "1"
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        _published(request, version)
    return redirect("creatives:detail", pk=template.pk)


@scoped(Action.TEMPLATE_MANAGE)
def version_restore(request: ScopedRequest, pk: int, number: int) -> HttpResponse:
    """Roll back to an earlier published version: the page shows what publishing its content again
    would do (checks, changes, stores' values); the POST publishes it as a new version."""
    template = get_object_or_404(selectors.templates(), pk=pk)
    if not request.scope.covers_path(template.entity.path):
        raise PermissionDenied
    source = get_object_or_404(selectors.versions(template), number=number, published_at__isnull=False)
    if request.method == "POST":
        try:
            version = services.version_restore(
                template=template, number=number, accept_warnings=request.POST.get("accept_warnings") == "1"
            )
        except ValidationError as exc:
            _refused(request, exc)
            return redirect("creatives:restore", pk=template.pk, number=number)
        _published(request, version)
        return redirect("creatives:detail", pk=template.pk)
    copy = selectors.content_copy(template, source)
    context = {
        "template": template,
        "source": source,
        "draft": selectors.draft_of(template),
        "plan": selectors.publish_plan(template, copy),
        "current": template.published_version(),
    }
    return render(request, "creatives/restore.html", context)


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def template_archive(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    services.template_archive(template=template)
    messages.success(request, _("The template is archived."))
    return redirect("creatives:list")


def _personalise_screen(
    request: ScopedRequest, template: ChannelTemplate, version: TemplateVersion, store: Entity
) -> HttpResponse:
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    role = request.scope.role
    stored = selectors.stored_values(version, store)
    initial = {f"z_{k}": v for k, v in zonelib.resolve(zone_defs, stored).items()}
    form = PersonalisationForm(request.POST or None, initial=initial, zones=zone_defs, role=role)
    if request.method == "POST":
        if form.is_valid():
            try:
                personalisation = services.personalisation_save(
                    version=version,
                    entity=store,
                    values=form.cleaned_data["values"],
                    submit="submit" in request.POST,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if personalisation.status == Personalisation.Status.SUBMITTED:
                    messages.success(request, _("Your content was saved and submitted."))
                else:
                    messages.success(request, _("Your content was saved."))
                return redirect("creatives:personalisation", pk=personalisation.pk)
        values = _preview_values(zone_defs, stored, form.submitted_values(), role)
    else:
        values = stored
    preview = selectors.preview(version, store, values)
    saved = (
        Personalisation.objects.filter(version=version, entity=store).select_related("carried_from").first()
    )
    if template.channel == Channel.SMS:  # the text zones get the live SMS counter
        form.for_sms(preview.rendered.text or "")
    context = {
        "template": template,
        "version": version,
        "store": store,
        "stores": selectors.personalisable_stores(template)[:500],
        "form": form,
        "locked": [z for z in zone_defs if not z.editable_by(role)],
        "preview": preview,
        "widths": PREVIEW_WIDTHS,
        "recipients": rendering.SAMPLE_RECIPIENTS,
        "recipient": "camille",
        "personalisation": saved,
        # What HQ's new version could not keep of the store's content, until the store saves again.
        "dropped": carry.describe(saved.dropped) if saved else [],
    }
    return render(request, "creatives/personalise.html", context)


def _preview_values(
    zone_defs: list[zonelib.Zone], stored: dict[str, Any], submitted: dict[str, Any], role: str
) -> dict[str, Any]:
    """For a preview: stored values, overlaid with the submitted values that pass validation
    (locked, unknown and invalid ones are ignored; the form reports them)."""
    by_key = {z.key: z for z in zone_defs}
    values = dict(stored)
    for key, value in submitted.items():
        zone = by_key.get(key)
        if zone is None or not zone.editable_by(role):
            continue
        clean, errors = zonelib.validate_values([replace(zone, required=False)], {key: value}, role)
        if not errors:
            values[key] = clean.get(key, "")
    return values


@scoped(Action.TEMPLATE_PERSONALISE)
def personalise(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    version = template.published_version()
    if version is None or template.status != ChannelTemplate.Status.PUBLISHED:
        messages.error(request, _("This template has no published version to personalise."))
        return redirect("creatives:detail", pk=template.pk)
    store = _store_from(request, template, request.POST.get("store") or request.GET.get("store"))
    if store is None:
        return render(
            request,
            "creatives/pick_store.html",
            {"template": template, "stores": selectors.personalisable_stores(template)[:500]},
        )
    return _personalise_screen(request, template, version, store)


@scoped(Action.TEMPLATE_PERSONALISE)
def personalisation(request: ScopedRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(
        Personalisation.objects.select_related("version__template__entity", "entity__entity_type"), pk=pk
    )
    template = found.version.template
    # The screen always works on the latest published version (values carry over).
    version = template.published_version() or found.version
    return _personalise_screen(request, template, version, found.entity)


@require_POST
@scoped(Action.TEMPLATE_PERSONALISE)
def preview(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    version = template.published_version()
    if version is None:
        raise Http404
    store = _store_from(request, template, request.POST.get("store"))
    if store is None:
        raise Http404
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    form = PersonalisationForm(request.POST, zones=zone_defs, role=request.scope.role)
    submitted = form.submitted_values()
    role = request.scope.role
    values = _preview_values(zone_defs, selectors.stored_values(version, store), submitted, role)
    errors = zonelib.validate_values(zone_defs, submitted, role)[1] if submitted else []
    recipient = request.POST.get("recipient", "camille")
    result = selectors.preview(version, store, values, recipient)
    return render(
        request,
        "creatives/_preview.html",
        {"preview": result, "widths": PREVIEW_WIDTHS, "zone_errors": errors, "template": template},
    )


@scoped(Action.TEMPLATE_MANAGE)
def creative_settings(request: ScopedRequest) -> HttpResponse:
    instance = selectors.settings_for(request.scope.organisation_id)
    form = SettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(
                restricted_patterns=form.cleaned_data["patterns"],
                sms_advertiser=form.cleaned_data["sms_advertiser"],
                sms_opt_out=form.cleaned_data["sms_opt_out"],
                sms_price_per_segment=form.cleaned_data["sms_price_per_segment"],
                sms_segment_limit=form.cleaned_data["sms_segment_limit"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("creatives:settings")
    return render(request, "creatives/settings.html", {"form": form, "channels": Channel})
