"""Print and social pages: a store's print kit and social export, a print campaign's direct mail.

Thin: the services are in :mod:`glocal.delivery.printbatch` and :mod:`glocal.delivery.social`. Every
object comes through the scope: another store's (or organisation's) store, campaign, operation or batch
answers 404 like a missing id. URLs are reversed in the namespace these views were reached through
(``print`` or wherever the project includes :mod:`glocal.delivery.print_urls`).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.brand import printing
from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns.models import Campaign, Operation
from glocal.campaigns.states import State
from glocal.core.http import ScopedRequest
from glocal.core.models import Job
from glocal.core.roles import Action, role_allows
from glocal.core.views_base import scoped
from glocal.creatives.models import Channel
from glocal.network.models import Entity

from . import printbatch, social

STORE_LIST_LIMIT = 100


def _url(request: ScopedRequest, name: str, *args: Any) -> str:
    match = request.resolver_match
    namespace = match.namespace if match is not None and match.namespace else "print"
    return reverse(f"{namespace}:{name}", args=args)


def _stores() -> Any:
    return Entity.objects.filter(entity_type__is_local=True, is_active=True).select_related("entity_type")


def _store(pk: int) -> Entity:
    return get_object_or_404(_stores(), pk=pk)


def _campaigns() -> Any:
    return Campaign.objects.select_related("entity__entity_type", "version__template", "operation", "wave")


def _operation_for(request: ScopedRequest, store: Entity, pk: int) -> Operation:
    """A published operation the store is eligible for (and, for a store's own users, already visible)."""
    operation = get_object_or_404(Operation.objects.select_related("owner"), pk=pk)
    if operation.status != Operation.Status.PUBLISHED:
        raise Http404
    if not campaign_selectors.eligible_stores(operation).filter(pk=store.pk).exists():
        raise Http404
    if request.scope.entity_id == store.pk and operation.visible_from > timezone.localdate():
        raise Http404
    return operation


def _int_param(request: ScopedRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        raise Http404
    return int(value)


def _items(request: ScopedRequest, store: Entity, channel: str) -> tuple[list[printbatch.KitItem], str]:
    """What to render: ``?campaign=`` (the store's campaign), ``?operation=`` (its waves), else every
    published template of the channel visible to the store. Returns the items and a name suffix."""
    campaign_id, operation_id = _int_param(request, "campaign"), _int_param(request, "operation")
    if campaign_id is not None:
        campaign = get_object_or_404(_campaigns(), pk=campaign_id, entity=store)
        return printbatch.campaign_items(campaign, channel), f"campaign-{campaign.pk}"
    if operation_id is not None:
        operation = _operation_for(request, store, operation_id)
        return printbatch.operation_items(operation, store, channel), f"operation-{operation.pk}"
    return printbatch.store_templates(store, channel), "all"


def _zip_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# -- store kits ------------------------------------------------------------------------------------


@scoped(Action.CAMPAIGN_VIEW)
def kit_home(request: ScopedRequest) -> HttpResponse:
    """A store goes straight to its own kit; HQ and regions pick one of their stores."""
    own = _stores().filter(pk=request.scope.entity_id).first()
    if own is not None:
        return redirect(_url(request, "store_kit", own.pk))
    query = request.GET.get("q", "").strip()[:80]
    stores = _stores().order_by("name", "pk")
    if query:
        stores = stores.filter(Q(name__icontains=query) | Q(code__icontains=query) | Q(city__icontains=query))
    rows = [(store, _url(request, "store_kit", store.pk)) for store in stores[:STORE_LIST_LIMIT]]
    return render(
        request,
        "delivery/print/kit_home.html",
        {"rows": rows, "query": query, "limit": STORE_LIST_LIMIT, "action": _url(request, "kit")},
    )


@scoped(Action.CAMPAIGN_VIEW)
def store_kit(request: ScopedRequest, pk: int) -> HttpResponse:
    store = _store(pk)
    print_items = printbatch.store_templates(store, Channel.PRINT)
    social_items = printbatch.store_templates(store, Channel.SOCIAL)
    operations = []
    candidates = Operation.objects.filter(status=Operation.Status.PUBLISHED).prefetch_related(
        "waves__version__template"
    )
    if request.scope.entity_id == store.pk:
        candidates = candidates.filter(visible_from__lte=timezone.localdate())
    for operation in candidates.order_by("-in_market_start", "pk")[:50]:
        channels = {wave.version.template.channel for wave in operation.waves.all()}
        if not channels & {Channel.PRINT, Channel.SOCIAL}:
            continue
        if not campaign_selectors.eligible_stores(operation).filter(pk=store.pk).exists():
            continue
        operations.append((operation, Channel.PRINT in channels, Channel.SOCIAL in channels))
    campaigns = (
        _campaigns()
        .filter(entity=store, version__template__channel__in=[Channel.PRINT, Channel.SOCIAL])
        .exclude(state=State.CANCELLED)
        .order_by("-pk")[:50]
    )
    print_zip = _url(request, "print_kit_zip", store.pk)
    social_zip = _url(request, "social_zip", store.pk)
    context = {
        "store": store,
        "print_items": [(item, printing.parse_options(item.version.source).page) for item in print_items],
        "social_items": social_items,
        "print_zip": print_zip,
        "social_zip": social_zip,
        "operations": [
            (
                op,
                f"{print_zip}?operation={op.pk}" if p else "",
                f"{social_zip}?operation={op.pk}" if s else "",
            )
            for op, p, s in operations
        ],
        "campaigns": [
            (
                c,
                f"{print_zip}?campaign={c.pk}" if c.channel == Channel.PRINT else "",
                f"{social_zip}?campaign={c.pk}" if c.channel == Channel.SOCIAL else "",
                _url(request, "direct_mail", c.pk) if c.channel == Channel.PRINT else "",
            )
            for c in campaigns
        ],
    }
    return render(request, "delivery/print/store_kit.html", context)


@scoped(Action.CAMPAIGN_VIEW)
def print_kit_zip(request: ScopedRequest, pk: int) -> HttpResponse:
    store = _store(pk)
    items, suffix = _items(request, store, Channel.PRINT)
    if not items:
        messages.info(request, _("There is no print material to download there."))
        return redirect(_url(request, "store_kit", store.pk))
    data = printbatch.store_print_kit(entity=store, templates=items)
    return _zip_response(data, f"print-kit-{slugify(store.code) or store.pk}-{suffix}.zip")


@scoped(Action.CAMPAIGN_VIEW)
def social_zip(request: ScopedRequest, pk: int) -> HttpResponse:
    store = _store(pk)
    items, suffix = _items(request, store, Channel.SOCIAL)
    if not items:
        messages.info(request, _("There is no social post to download there."))
        return redirect(_url(request, "store_kit", store.pk))
    data = social.store_social_export(entity=store, templates=items)
    return _zip_response(data, f"social-{slugify(store.code) or store.pk}-{suffix}.zip")


# -- direct mail -------------------------------------------------------------------------------------


@scoped(Action.CAMPAIGN_VIEW)
def direct_mail(request: ScopedRequest, pk: int) -> HttpResponse:
    """The campaign's direct mail: can it be printed, for how many, its batches (htmx: the batch list)."""
    campaign = get_object_or_404(_campaigns(), pk=pk)
    problems = printbatch.direct_mail_problems(campaign)
    can_download = role_allows(request.scope.role, Action.CAMPAIGN_SUBMIT)
    batches = [
        (
            job,
            _url(request, "direct_mail_download", job.pk)
            if can_download and printbatch.batch_file(job)
            else "",
        )
        for job in printbatch.batches_for(campaign)[:20]
    ]
    context = {
        "campaign": campaign,
        "problems": problems,
        "recipients": printbatch.letter_recipients(campaign).count()
        if campaign.channel == Channel.PRINT
        else 0,
        "can_start": can_download and not problems,
        "start_url": _url(request, "direct_mail_start", campaign.pk),
        "self_url": _url(request, "direct_mail", campaign.pk),
        "kit_url": _url(request, "store_kit", campaign.entity_id),
        "batches": batches,
        "polling": any(not job.is_finished for job, _link in batches),
        "own_jobs": set(
            Job.objects.filter(pk__in=[job.pk for job, _link in batches]).values_list("pk", flat=True)
        ),
    }
    template = "delivery/print/_batches.html" if request.htmx else "delivery/print/direct_mail.html"
    return render(request, template, context)


@require_POST
@scoped(Action.CAMPAIGN_SUBMIT)
def direct_mail_start(request: ScopedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(_campaigns(), pk=pk)
    try:
        job = printbatch.direct_mail_start(campaign=campaign)
    except (ValidationError, PermissionDenied) as exc:
        for message in getattr(exc, "messages", None) or [_("You may not do that.")]:
            messages.error(request, message)
        return redirect(_url(request, "direct_mail", campaign.pk))
    return redirect("core:job", pk=job.pk)


@scoped(Action.CAMPAIGN_SUBMIT)
def direct_mail_download(request: ScopedRequest, pk: int) -> HttpResponse:
    """A finished batch's zip. The batch is found by id in the organisation, then its campaign through
    the scope: another store's batch answers 404 like a missing one."""
    job = Job.unscoped.filter(  # the campaign below is the scope check (see printbatch.batches_for)
        pk=pk, organisation_id=request.scope.organisation_id, kind=printbatch.JOB_KIND
    ).first()
    if job is None or not isinstance(job.params, dict) or not str(job.params.get("campaign", "")).isdigit():
        raise Http404
    campaign = get_object_or_404(_campaigns(), pk=int(job.params["campaign"]))
    name = printbatch.batch_file(job)
    if not name or not default_storage.exists(name):
        raise Http404
    printbatch.direct_mail_downloaded(campaign=campaign, job=job)
    response = FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=True,
        filename=printbatch.download_name(campaign),
        content_type="application/zip",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Streamed (a batch can be tens of MB); ``scoped`` is typed for HttpResponse, which it passes through.
    return cast(HttpResponse, response)
