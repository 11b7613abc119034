"""Audience pages: contact list and page, consent, purchases, ownership, rights, import wizard, settings.

Thin: forms + services + selectors. Every object is fetched through scoped managers (404 outside)."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.accounts.client_ip import client_ip
from glocal.core import jobs
from glocal.core.forms import add_validation_errors
from glocal.core.http import ScopedRequest
from glocal.core.models import Job
from glocal.core.roles import Action, sees_personal_data
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import importer, mappings, selectors, services
from .forms import (
    AssignForm,
    AttributeForm,
    ConsentForm,
    ContactForm,
    FilterForm,
    MappingForm,
    PurchaseForm,
    SettingsForm,
    TransferFilterForm,
    UploadForm,
)
from .models import (
    AttributeDefinition,
    AudienceSettings,
    ConsentEvent,
    ConsentSource,
    ConsentStatus,
    Contact,
    OwnershipTransfer,
    Purchase,
)

SESSION_KEY = "audience_imports"
CHARSETS = {"utf-8-sig": "utf-8", "cp1252": "windows-1252"}  # codec → the charset a browser knows


def _owner_choices(request: ScopedRequest) -> list[tuple[str, str]]:
    """Stores a HQ or regional user may filter on (none for a store: it only has its own)."""
    stores = Entity.objects.filter(entity_type__is_local=True).exclude(pk=request.scope.entity_id)
    return [
        (str(pk), f"{name} ({code})")
        for pk, name, code in stores.order_by("name").values_list("pk", "name", "code")
    ]


def _filtered(request: ScopedRequest) -> tuple[FilterForm, Any]:
    form = FilterForm(request.GET or None, owners=_owner_choices(request))
    data = form.cleaned_data if form.is_valid() else {}
    owner = get_object_or_404(Entity, pk=data["owner"]) if data.get("owner") else None
    qs = selectors.filtered_contacts(
        query=data.get("q", ""),
        kind=data.get("kind", ""),
        channel=data.get("channel", ""),
        tag=data.get("tag", ""),
        owner=owner,
    )
    return form, qs


@scoped(Action.CONTACT_VIEW)
def contact_list(request: ScopedRequest) -> HttpResponse:
    form, qs = _filtered(request)
    page = selectors.contact_page(qs, request.GET.get("after", ""))
    params = request.GET.copy()
    params.pop("after", None)
    context = {"form": form, "page": page, "query_string": params.urlencode()}
    return render(request, "audience/list.html", context)


@scoped(Action.CONTACT_VIEW)
def contact_count(request: ScopedRequest) -> HttpResponse:
    """The (capped) number of contacts matching the filters, loaded lazily by the list page."""
    _form, qs = _filtered(request)
    count, capped = selectors.capped_count(qs)
    return render(request, "audience/_count.html", {"count": count, "capped": capped})


def _attributes() -> list[AttributeDefinition]:
    return list(AttributeDefinition.objects.all())


@scoped(Action.CONTACT_EDIT)
def contact_create(request: ScopedRequest) -> HttpResponse:
    form = ContactForm(request.POST or None, attributes=_attributes(), with_consent=True)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.contact_create(
                fields=form.contact_fields(),
                consents=form.consents(),
                source=ConsentSource.STORE,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            # One answer whether the person was new or is another store's customer (left untouched):
            # the redirect and the message must not tell the two apart.
            messages.success(request, _("Thank you: the details were recorded."))
            if result.refused:
                messages.warning(request, services.REFUSED_OBJECTION)
            return redirect("audience:list")
    return render(request, "audience/contact_form.html", {"form": form})


@scoped(Action.CONTACT_VIEW)
def contact_detail(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.select_related("owner"), pk=pk)
    attributes = {a.key: a.label for a in _attributes()}
    context = {
        "contact": contact,
        "attributes": [(attributes.get(k, k), v) for k, v in contact.attributes.items()],
        "consents": [
            (c, status, ConsentStatus(status).label if status else "")
            for c in selectors.Channel
            for status in [contact.consent(c.value)]
        ],
        "ledger": ConsentEvent.objects.filter(contact=contact).select_related("entity", "actor")[:100],
        "purchases": Purchase.objects.filter(contact=contact).select_related("entity")[:100],
        "transfers": OwnershipTransfer.objects.filter(contact=contact).select_related(
            "from_entity", "to_entity", "actor"
        )[:50],
        "consent_form": ConsentForm(),
        "purchase_form": PurchaseForm(initial={"entity": contact.owner_id}),
    }
    return render(request, "audience/contact.html", context)


@scoped(Action.CONTACT_EDIT)
def contact_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    initial = {
        name: getattr(contact, name) for name in ("kind", "first_name", "last_name", "email", "mobile")
    }
    initial.update(
        {
            name: getattr(contact, name)
            for name in (
                "address_line1",
                "address_line2",
                "postcode",
                "city",
                "country",
                "language",
                "birth_date",
            )
        }
    )
    initial["tags"] = ", ".join(contact.tag_list)
    initial.update({f"attr_{k}": v for k, v in contact.attributes.items()})
    form = ContactForm(request.POST or None, initial=initial, attributes=_attributes())
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(contact=contact, changes=form.contact_fields())
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            messages.success(request, _("The contact was saved."))
            return redirect("audience:contact", pk=contact.pk)
    return render(request, "audience/contact_form.html", {"form": form, "contact": contact})


@require_POST
@scoped(Action.CONTACT_EDIT)
def contact_consent(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        event = services.consent_record(
            contact=contact,
            channel=form.cleaned_data["channel"],
            status=form.cleaned_data["status"],
            source=ConsentSource.USER,
            wording=form.cleaned_data["wording"],
            form_version="contact-page",
            ip=client_ip(request),
        )
        if event is None:
            messages.error(request, services.REFUSED_OBJECTION)
        else:
            messages.success(request, _("Consent recorded."))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("audience:contact", pk=contact.pk)


@require_POST
@scoped(Action.CONTACT_EDIT)
def contact_purchase(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    form = PurchaseForm(request.POST)
    if form.is_valid():
        services.purchase_record(
            contact=contact,
            entity=form.cleaned_data["entity"],
            date=form.cleaned_data["date"],
            amount=form.cleaned_data["amount"],
            category=form.cleaned_data["category"],
        )
        messages.success(request, _("Purchase recorded."))
        if not Contact.objects.filter(pk=contact.pk).exists():
            messages.info(request, _("Under the ownership rule, this customer now belongs to another store."))
            return redirect("audience:list")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("audience:contact", pk=contact.pk)


@scoped(Action.CONTACT_ASSIGN)
def contact_assign(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.select_related("owner"), pk=pk)
    form = AssignForm(request.POST or None, initial={"entity": contact.owner_id, "lock": True})
    if request.method == "POST" and form.is_valid():
        services.contact_assign(
            contact=contact, entity=form.cleaned_data["entity"], lock=form.cleaned_data["lock"]
        )
        messages.success(request, _("The owner was changed."))
        return redirect("audience:contact", pk=contact.pk)
    return render(request, "audience/assign.html", {"form": form, "contact": contact})


@scoped(Action.CONTACT_EXPORT)
def contact_export(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.select_related("owner"), pk=pk)
    data = services.contact_export(contact)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    return response


@scoped(Action.CONTACT_ERASE)
def contact_erase(request: ScopedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        services.contact_erase(contact=contact)
        messages.success(
            request, _("The person was erased. Their hashed email and phone stay on the opposition list.")
        )
        return redirect("audience:list")
    return render(request, "audience/erase.html", {"contact": contact})


# ---------------------------------------------------------------------------------------------------
# Import wizard: upload → mapping → dry run (report) → import → progress


@scoped(Action.CONTACT_IMPORT)
def import_upload(request: ScopedRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        suffix = ".xlsx" if importer.is_xlsx(upload.name) else ".csv"
        name = default_storage.save(f"uploads/{uuid.uuid4().hex}{suffix}", upload)  # streamed to storage
        try:
            found = importer.preview(name, upload.name)
        except importer.FileError as exc:
            default_storage.delete(name)
            form.add_error("file", str(exc))
        else:
            if not any(found.header):
                default_storage.delete(name)
                form.add_error("file", _("The file is empty."))
            else:
                key = uuid.uuid4().hex[:16]
                pending = request.session.get(SESSION_KEY, {})
                pending[key] = {
                    "upload": name,
                    "filename": upload.name[:200],
                    "header": [cell[:200] for cell in found.header],
                    "samples": found.samples,
                    "encoding": found.encoding,
                }
                request.session[SESSION_KEY] = dict(list(pending.items())[-5:])
                return _after_upload(request, key, pending[key])
    return render(request, "audience/import.html", {"form": form})


def _after_upload(request: ScopedRequest, key: str, pending: dict[str, Any]) -> HttpResponse:
    """A file whose headers this node has matched before goes straight to the check with the same
    columns and wording (its page offers to change them); any other to the mapping page."""
    remembered = mappings.recall(pending["header"], _attributes())
    if remembered is None or not remembered.complete:
        return redirect("audience:import_mapping", key=key)
    job = mappings.start_check(
        pending=pending,
        key=key,
        mapping=remembered.mapping,
        wording=remembered.wording,
        language=translation.get_language(),
        remember=False,
        remembered=True,
    )
    return redirect("audience:import_job", pk=job.pk)


@scoped(Action.CONTACT_IMPORT)
def import_mapping(request: ScopedRequest, key: str) -> HttpResponse:
    pending = request.session.get(SESSION_KEY, {}).get(key)
    if pending is None:
        raise Http404
    attributes = _attributes()
    remembered = mappings.recall(pending["header"], attributes)
    form = MappingForm(
        request.POST or None,
        header=pending["header"],
        samples=pending["samples"],
        attributes=attributes,
        initial_mapping=(
            remembered.mapping if remembered else importer.guess_mapping(pending["header"], attributes)
        ),
        initial={"wording": remembered.wording} if remembered else None,
    )
    if request.method == "POST" and form.is_valid():
        job = mappings.start_check(
            pending=pending,
            key=key,
            mapping=form.mapping(),
            wording=form.cleaned_data["wording"],
            language=translation.get_language(),
        )
        return redirect("audience:import_job", pk=job.pk)
    context = {"form": form, "pending": pending, "remembered": remembered is not None}
    return render(request, "audience/import_mapping.html", context)


@scoped(Action.CONTACT_IMPORT)
def import_job(request: ScopedRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk, kind=importer.JOB_KIND)
    template = "audience/_import_status.html" if request.htmx else "audience/import_job.html"
    return render(request, template, {"job": job})


@require_POST
@scoped(Action.CONTACT_IMPORT)
def import_run(request: ScopedRequest, pk: int) -> HttpResponse:
    checked = get_object_or_404(Job, pk=pk, kind=importer.JOB_KIND, status=Job.Status.DONE)
    if not checked.params.get("dry_run") or not checked.result.get("ok"):
        raise Http404
    job = jobs.enqueue(
        importer.JOB_KIND,
        scope=request.scope,
        params={**checked.params, "dry_run": False, "language": translation.get_language()},
        by_user_id=request.user.pk,
    )
    return redirect("audience:import_job", pk=job.pk)


@scoped(Action.CONTACT_IMPORT)
def import_rows_to_fix(request: ScopedRequest, pk: int) -> HttpResponse:
    """The bad rows of a refused check, as a CSV to correct from (reads only)."""
    checked = get_object_or_404(Job, pk=pk, kind=importer.JOB_KIND, status=Job.Status.DONE)
    upload, filename = checked.params.get("upload", ""), checked.params.get("filename", "")
    errors = (checked.result or {}).get("errors") or []
    if not upload or not errors or not default_storage.exists(upload):
        raise Http404
    try:
        codec, delimiter = importer.fix_format(upload, filename, translation.get_language() or "")
    except importer.FileError:
        raise Http404 from None
    stem = (filename.rsplit(".", 1)[0] or "contacts")[:80]
    response = StreamingHttpResponse(
        importer.rows_to_fix(upload, filename, errors, codec=codec, delimiter=delimiter),
        content_type=f"text/csv; charset={CHARSETS.get(codec, codec)}",
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{stem} - {_('rows to fix')}.csv"
    )
    return cast(HttpResponse, response)  # streamed: scoped() passes it through untouched


# ---------------------------------------------------------------------------------------------------
# Settings


def _rule_change(current: Any, data: dict[str, Any]) -> bool:
    """The form changes who owns contacts: a new rule (or period) that is not "explicit"."""
    changed = (data["ownership_rule"], data["ownership_months"]) != (
        current.ownership_rule,
        current.ownership_months,
    )
    return changed and data["ownership_rule"] != AudienceSettings.OwnershipRule.EXPLICIT


def _save_settings(request: ScopedRequest, settings_form: SettingsForm) -> HttpResponse:
    """Save; a rule change is previewed first (nothing written) and applied only when the POST carries
    the digest of the impact the user saw and the data still gives that impact."""
    data = {name: settings_form.cleaned_data[name] for name in SettingsForm.Meta.fields}
    if _rule_change(services.settings_for(request.scope.organisation_id), data):
        impact = services.ownership_impact(rule=data["ownership_rule"], months=data["ownership_months"])
        digest = request.POST.get("digest", "")
        if digest != impact.digest:
            context = {"form": settings_form, "impact": impact, "stale": bool(digest)}
            return render(request, "audience/ownership_preview.html", context)
    services.settings_update(changes=data)
    messages.success(request, _("Settings saved."))
    job = (
        Job.objects.filter(kind=services.OWNERSHIP_JOB, created_by_id=request.user.pk).order_by("-pk").first()
    )
    if job is not None and not job.is_finished:
        return redirect("core:job", pk=job.pk)
    return redirect("audience:settings")


@scoped(Action.AUDIENCE_SETTINGS)
def audience_settings(request: ScopedRequest) -> HttpResponse:
    scope = request.scope
    current = services.settings_for(scope.organisation_id)
    settings_form = SettingsForm(
        request.POST if "settings-submit" in request.POST else None, instance=current, prefix="s"
    )
    attribute_form = AttributeForm(
        request.POST if "attr-submit" in request.POST else None,
        instance=AttributeDefinition(organisation_id=scope.organisation_id),
        prefix="attr",
    )
    if request.method == "POST":
        if "settings-submit" in request.POST and settings_form.is_valid():
            return _save_settings(request, settings_form)
        if "attr-submit" in request.POST and attribute_form.is_valid():
            services.attribute_add(definition=attribute_form.save(commit=False))
            messages.success(request, _("Attribute added."))
            return redirect("audience:settings")
    context = {"settings_form": settings_form, "attribute_form": attribute_form, "attributes": _attributes()}
    return render(request, "audience/settings.html", context)


# ---------------------------------------------------------------------------------------------------
# Transfer log

TRANSFERS_PER_PAGE = 50


@scoped(Action.CONTACT_VIEW)
def transfer_log(request: ScopedRequest) -> HttpResponse:
    """Who moved from which store to which, when and why: HQ the network's, a store its own (in and out)."""
    form = TransferFilterForm(request.GET or None, stores=_owner_choices(request))
    data = form.cleaned_data if form.is_valid() else {}
    store = get_object_or_404(Entity, pk=data["store"]) if data.get("store") else None
    qs = selectors.transfer_log(store=store, since=data.get("since"), until=data.get("until"))
    page = Paginator(qs, TRANSFERS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        # The contacts still in the scope: a store sees who it lost, not their page.
        "visible": set(
            Contact.objects.filter(pk__in=[t.contact_id for t in page]).values_list("pk", flat=True)
        ),
        "personal": sees_personal_data(request.scope.role),
    }
    return render(request, "audience/transfers.html", context)
