"""External prospect lists: upload (all or nothing, every bad row reported), list, detail, purge.
The people on a list are never shown or searchable here: only counts and the purge record."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from glocal.core.confirm import confirm_page, count_text
from glocal.core.http import ScopedRequest
from glocal.core.roles import Action
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import prospects
from .forms import ProspectUploadForm
from .models import ProspectList


def _stores(request: ScopedRequest) -> list[tuple[int, str]]:
    stores = Entity.objects.filter(entity_type__is_local=True, is_active=True).order_by("name")
    return [(pk, f"{name} ({code})") for pk, name, code in stores.values_list("pk", "name", "code")[:2000]]


def _campaigns(request: ScopedRequest) -> list[tuple[int, str]]:
    from glocal.campaigns.models import Campaign

    open_campaigns = Campaign.objects.exclude(state__in=["sent", "cancelled"]).select_related("entity")
    return [(c.pk, f"{c.name} — {c.entity.name}") for c in open_campaigns.order_by("-created_at")[:500]]


@scoped(Action.PROSPECT_LIST_MANAGE)
def prospect_lists(request: ScopedRequest) -> HttpResponse:
    items = list(ProspectList.objects.select_related("entity").order_by("-created_at", "-id")[:500])
    return render(
        request, "targeting/prospects/list.html", {"lists": items, "stats": prospects.prospect_list_stats()}
    )


@scoped(Action.PROSPECT_LIST_MANAGE)
def prospect_upload(request: ScopedRequest) -> HttpResponse:
    form = ProspectUploadForm(
        request.POST or None, request.FILES or None, stores=_stores(request), campaigns=_campaigns(request)
    )
    report = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        entity = get_object_or_404(Entity.objects.filter(entity_type__is_local=True), pk=data["entity"])
        campaign = None
        if data.get("campaign"):
            from glocal.campaigns.models import Campaign

            campaign = get_object_or_404(Campaign.objects.all(), pk=data["campaign"])
        try:
            plist, report = prospects.upload_list(
                entity=entity,
                name=data["name"],
                campaign_ref=data["campaign_ref"],
                purge_after=data["purge_after"],
                data=data["file"],  # read as a stream, never whole
                filename=data["file"].name,
                provider=data["provider"],
                purpose=data["purpose"],
                campaign=campaign,
                consent_basis=data["consent_basis"] or ProspectList.ConsentBasis.POSTAL,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            if plist is not None:
                messages.success(
                    request,
                    _("%(rows)s people stored, %(excluded)s excluded (opposition list).")
                    % {"rows": plist.row_count, "excluded": plist.excluded_count},
                )
                if report.encoding and report.encoding != "UTF-8":
                    messages.info(
                        request,
                        _("The file was read as %(encoding)s text (it is not UTF-8).")
                        % {"encoding": report.encoding},
                    )
                return redirect("targeting:prospect_list", pk=plist.pk)
            form.add_error(None, _("Nothing was stored: correct the rows below and upload the file again."))
    return render(request, "targeting/prospects/upload.html", {"form": form, "report": report})


@scoped(Action.PROSPECT_LIST_MANAGE)
def prospect_list(request: ScopedRequest, pk: int) -> HttpResponse:
    plist = get_object_or_404(ProspectList.objects.select_related("entity"), pk=pk)
    context = {
        "list": plist,
        "held": plist.records.count(),
        "purges": list(plist.purges.select_related("purged_by")),
    }
    return render(request, "targeting/prospects/detail.html", context)


@require_http_methods(["GET", "POST"])
@scoped(Action.PROSPECT_LIST_MANAGE)
def prospect_purge(request: ScopedRequest, pk: int) -> HttpResponse:
    """GET: how many people purging deletes, asked first; POST: purge."""
    plist = get_object_or_404(ProspectList.objects.all(), pk=pk)
    if request.method == "GET":
        held = plist.records.count()
        return confirm_page(
            request,
            title=_("Purge the list “%(name)s” now?") % {"name": plist.name},
            consequence=ngettext("Deletes %(n)s person.", "Deletes %(n)s people.", held)
            % {"n": count_text(held)},
            details=[
                _(
                    "The people on the list are deleted for good; the list's description and a record of "
                    "the purge are kept."
                ),
            ],
            back=reverse("targeting:prospect_list", args=[plist.pk]),
            button=_("Purge now"),
            refused="" if plist.status == ProspectList.Status.ACTIVE else _("This list is already purged."),
        )
    if plist.status == ProspectList.Status.ACTIVE:
        purge = prospects.purge_list(prospect_list=plist)
        messages.success(request, _("List purged: %(n)s people deleted.") % {"n": purge.rows_deleted})
    return redirect("targeting:prospect_list", pk=plist.pk)
