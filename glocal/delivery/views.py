"""Delivery pages: the recipient's endpoints (one-click unsubscribe, preference page, click redirect, open
pixel) and the store's pages (sent messages, a campaign's delivery report with every exclusion's reason,
HQ's delivery rules).

The recipient endpoints need no login, cookie or CSRF token; everything they trust comes from a signed
token or reference (``tokens`` / ``tracking``): anything else answers 404.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from glocal.accounts.client_ip import client_ip
from glocal.campaigns.models import Campaign
from glocal.core.language import entity_language, recipient_language, speaking
from glocal.core.roles import Action, role_allows, sees_personal_data
from glocal.core.views_base import scoped
from glocal.creatives import selectors as creative_selectors
from glocal.network.models import Entity

from . import selectors as delivery_selectors
from . import services, test_send, tokens, window_summary
from .models import DeliverySettings, Exclusion, Message, MessageEvent, SendingWindow
from .models import explain as explain_exclusion
from .templatetags.delivery_test_send import test_send_form

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


# -- the recipient's endpoints -------------------------------------------------------------------------


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058: a POST (form-urlencoded or multipart, no cookie, no CSRF token) unsubscribes and answers
    200, never a redirect. A GET only shows the preference page (link scanners prefetch GETs)."""
    try:
        claim = tokens.read_unsubscribe_token(token)
    except tokens.InvalidToken:
        raise Http404 from None
    contact = services.contact_for_claim(claim)
    if contact is None:
        return _unsubscribe_rented(request, claim, token)
    # The recipient's pages, in the language their messages are written in (not their browser's).
    return _preferences_page(
        request,
        claim,
        token,
        recipient_language(contact, contact.owner, contact.organisation),
        subscribed=lambda: services.is_subscribed(contact, claim.channel),
        # the proof: the client's address behind declared proxies only
        unsubscribe=lambda: services.unsubscribe(claim, contact, ip=client_ip(request)),
    )


def _preferences_page(
    request: HttpRequest,
    claim: tokens.UnsubscribeClaim,
    token: str,
    language: str,
    *,
    subscribed: Callable[[], bool],
    unsubscribe: Callable[[], None],
) -> HttpResponse:
    """The preference page (GET) or the unsubscribe (POST), in ``language``."""
    with speaking(language):
        if request.method == "POST":
            unsubscribe()
            response = render(request, "delivery/unsubscribed.html", {"channel": claim.channel}, status=200)
        else:
            context = {"channel": claim.channel, "subscribed": subscribed(), "token": token}
            response = render(request, "delivery/preferences.html", context)
    response["Content-Language"] = language
    return response


def _unsubscribe_rented(request: HttpRequest, claim: tokens.UnsubscribeClaim, token: str) -> HttpResponse:
    """The same pages for a rented list's recipient (no contact): objecting puts the address on the
    opposition list. In the sending store's language."""
    message = services.rented_message_for_claim(claim)
    if message is None:
        raise Http404
    entity = message.campaign.entity
    return _preferences_page(
        request,
        claim,
        token,
        entity_language(entity, entity.organisation),
        subscribed=lambda: services.address_is_subscribed(message, claim.channel),
        unsubscribe=lambda: services.unsubscribe_address(claim, message),
    )


@never_cache
def click(request: HttpRequest, token: str) -> HttpResponse:
    """Signed redirect: only ever to the URL inside the token (never one from the request)."""
    try:
        claim = tokens.read_click_token(token)
    except tokens.InvalidToken:
        raise Http404 from None
    services.record_click(request.GET.get("m", ""), claim.url)
    return HttpResponseRedirect(claim.url)


@never_cache
def open_pixel(request: HttpRequest, ref: str) -> HttpResponse:
    services.record_open(ref)
    return HttpResponse(PIXEL, content_type="image/gif")


# -- the store's pages --------------------------------------------------------------------------------


def mask_address(address: str) -> str:
    """An address for a role that may not see personal data: its shape only (``h•••@•••.test``,
    ``+33•••••••78``); "" for an erased one."""
    if not address:
        return ""
    if "@" in address:
        local, _at, domain = address.partition("@")
        tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
        return f"{local[:1]}•••@•••" + (f".{tld}" if tld else "")
    return f"{address[:3]}{'•' * max(len(address) - 5, 3)}{address[-2:]}"


def _shown(message: Message, personal: bool) -> str:
    if not message.to_address:
        return str(_("(erased)"))
    return message.to_address if personal else mask_address(message.to_address)


@scoped(Action.CAMPAIGN_VIEW)
def messages(request: Any) -> HttpResponse:
    """What was sent (in the demo, what the capture server received), newest first. Roles without
    access to contacts see masked addresses and cannot search by address."""
    personal = sees_personal_data(request.scope.role)
    qs = Message.objects.select_related("campaign", "entity").order_by("-created_at", "-id")
    status = request.GET.get("status", "")
    if status in Message.Status.values:
        qs = qs.filter(status=status)
    channel = request.GET.get("channel", "")
    if channel in ("email", "sms", "print"):
        qs = qs.filter(channel=channel)
    campaign_id = request.GET.get("campaign", "")
    if campaign_id.isdigit():
        qs = qs.filter(campaign_id=int(campaign_id))
    query = request.GET.get("q", "").strip() if personal else ""
    if query:
        qs = qs.filter(to_address__icontains=query)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    for message in page:
        message.shown_address = _shown(message, personal)
    return render(
        request,
        "delivery/messages.html",
        {
            "page": page,
            "statuses": Message.Status.choices,
            "status": status,
            "channel": channel,
            "q": query,
            "personal": personal,
        },
    )


def _captured(message: Message) -> bytes | None:
    path = Path(settings.GLOCAL_MAILBOX_DIR) / f"{message.stable_id}.eml"
    return path.read_bytes() if path.is_file() else None


@scoped(Action.CAMPAIGN_VIEW)
def message_detail(request: Any, pk: int) -> HttpResponse:
    """One message. The text as received (with its live unsubscribe link) only for roles that may see
    contacts, and never once the person is erased; the others get the statuses and reasons."""
    message = get_object_or_404(Message.objects.select_related("campaign", "entity", "contact"), pk=pk)
    personal = sees_personal_data(request.scope.role)
    erased = not message.to_address
    raw = _captured(message) if personal and not erased and message.channel == "email" else None
    html = services.html_part(raw) if raw else ""
    return render(
        request,
        "delivery/message.html",
        {
            "message": message,
            "shown_address": _shown(message, personal),
            "events": MessageEvent.objects.filter(message=message),
            "raw": raw.decode("utf-8", "replace") if raw else None,
            "html": html,
            "body": message.body if personal and not erased else "",
            "personal": personal,
        },
    )


@scoped(Action.CAMPAIGN_VIEW)
def campaign_report(request: Any, pk: int) -> HttpResponse:
    """Where a campaign's messages are, and who was excluded and why."""
    campaign = get_object_or_404(Campaign.objects.select_related("entity", "version__template"), pk=pk)
    statuses = dict(
        Message.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    reasons = list(
        Exclusion.objects.filter(campaign=campaign)
        .values("reason", "detail_code", "params", "detail")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    for row in reasons:  # written now, in the reader's language (the launch stored codes)
        row["label"] = explain_exclusion(row["reason"], row["detail_code"], row["params"], row["detail"])
    exclusions = (
        Exclusion.objects.filter(campaign=campaign).select_related("contact").order_by("reason", "id")
    )
    reason = request.GET.get("reason", "")
    if reason in Exclusion.Reason.values:
        exclusions = exclusions.filter(reason=reason)
    # Who was excluded is personal data: the list for roles that see contacts, the counts for all.
    personal = sees_personal_data(request.scope.role)
    page = Paginator(exclusions if personal else Exclusion.objects.none(), 50).get_page(
        request.GET.get("page")
    )
    counts = services.counts_for(campaign, statuses)
    return render(
        request,
        "delivery/campaign.html",
        {
            "campaign": campaign,
            "statuses": [(label, statuses.get(value, 0), value) for value, label in Message.Status.choices],
            "counts": counts,
            "reasons": reasons,
            "page": page,
            "reason": reason,
            "reason_choices": Exclusion.Reason.choices,
            "personal": personal,
            "rented": delivery_selectors.rented_list_line(campaign),
        },
    )


CAP_CHANNEL_CHOICES = [
    ("", gettext_lazy("All channels")),
    ("email", gettext_lazy("Email")),
    ("sms", gettext_lazy("SMS")),
    ("print", gettext_lazy("Print")),
]


class CapForm(forms.Form):
    """One marketing-pressure cap: at most ``limit`` messages per contact over ``days`` on ``channel``."""

    limit = forms.IntegerField(
        label=gettext_lazy("Max messages"),
        min_value=1,
        max_value=1000,
        error_messages={
            "required": gettext_lazy("How many messages at most?"),
            "invalid": gettext_lazy("A whole number of messages."),
            "min_value": gettext_lazy("At least 1 message (remove the row to have no cap)."),
            "max_value": gettext_lazy("At most 1000 messages."),
        },
        widget=forms.NumberInput(attrs={"min": 1, "max": 1000}),
    )
    days = forms.IntegerField(
        label=gettext_lazy("Period (days)"),
        min_value=1,
        max_value=365,
        error_messages={
            "required": gettext_lazy("Over how many days?"),
            "invalid": gettext_lazy("A whole number of days."),
            "min_value": gettext_lazy("A period of 1 to 365 days."),
            "max_value": gettext_lazy("A period of 1 to 365 days."),
        },
        widget=forms.NumberInput(attrs={"min": 1, "max": 365}),
    )
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=CAP_CHANNEL_CHOICES, required=False)


class BaseCapFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[tuple[int, str], int] = {}
        for number, form in enumerate(self.forms, start=1):
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            key = (form.cleaned_data["days"], form.cleaned_data["channel"])
            if key in seen:
                form.add_error(
                    None,
                    gettext_lazy("Row %(first)s has the same channel and period: keep one of the two.")
                    % {"first": seen[key]},
                )
            seen.setdefault(key, number)

    def caps(self) -> list[dict[str, Any]]:
        """The rows kept, in the stored format (``{"limit", "days", "channel"}``)."""
        return [
            {k: form.cleaned_data[k] for k in ("limit", "days", "channel")}
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]


CapFormSet = forms.formset_factory(
    CapForm, formset=BaseCapFormSet, extra=3, can_delete=True, max_num=20, validate_max=True
)
CAPS_PREFIX = "caps"


def cap_formset(data: Any, caps: list[dict[str, Any]]) -> BaseCapFormSet:
    initial = [
        {"limit": c["limit"], "days": c["days"], "channel": c.get("channel") or ""} for c in caps or []
    ]
    formset: BaseCapFormSet = CapFormSet(data, initial=initial, prefix=CAPS_PREFIX)  # type: ignore[assignment]
    return formset


class DeliverySettingsForm(forms.ModelForm):
    class Meta:
        model = DeliverySettings
        fields = ["priority", "count_scheduled", "sms_start", "sms_end", "sender_domain"]
        widgets = {
            "sms_start": forms.TimeInput(attrs={"type": "time"}),
            "sms_end": forms.TimeInput(attrs={"type": "time"}),
        }


def _hq_country(request: Any) -> str:
    node = Entity.objects.filter(pk=request.scope.entity_id).first()
    return node.country if node else "FR"


@scoped(Action.MARKETING_RULES)
def delivery_settings(request: Any) -> HttpResponse:
    instance = _settings_row(request)
    form = DeliverySettingsForm(request.POST or None, instance=instance)
    caps = cap_formset(request.POST or None, instance.caps)
    if not role_allows(request.scope.role, Action.NETWORK_SETTINGS):
        del form.fields["sender_domain"]  # an integration (DNS, DKIM): HQ admins'
    if request.method == "POST" and form.is_valid() and caps.is_valid():
        try:
            saved = services.settings_save(form=form, caps=caps.caps())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            flash.success(request, str(window_summary.head_office(saved, _hq_country(request))))
            return redirect("delivery:settings")
    summary = window_summary.head_office(_settings_row(request), _hq_country(request))  # as saved
    context = {"form": form, "caps": caps, "summary": summary, "title": _("Delivery rules")}
    return render(request, "delivery/settings.html", context)


def _settings_row(request: Any) -> DeliverySettings:
    row = DeliverySettings.objects.filter(organisation_id=request.scope.organisation_id).first()
    return row or DeliverySettings(organisation_id=request.scope.organisation_id)


WEEKDAYS = [
    (0, gettext_lazy("Monday")),
    (1, gettext_lazy("Tuesday")),
    (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")),
    (4, gettext_lazy("Friday")),
    (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
]


class SendingWindowForm(forms.Form):
    sms_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Days SMS may go out"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every day the law and head office allow."),
    )
    sms_start = forms.TimeField(
        label=gettext_lazy("SMS not before"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    sms_end = forms.TimeField(
        label=gettext_lazy("SMS not after"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )


@scoped(Action.CAMPAIGN_SUBMIT)
def sending_window(request: Any) -> HttpResponse:
    """The acting entity's own SMS window, which narrows head office's (never widens it)."""
    current = SendingWindow.objects.filter(entity_id=request.scope.entity_id).first()
    initial = (
        {"sms_days": current.sms_days, "sms_start": current.sms_start, "sms_end": current.sms_end}
        if current
        else {}
    )
    form = SendingWindowForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.sending_window_save(
                days=form.cleaned_data["sms_days"],
                start=form.cleaned_data["sms_start"],
                end=form.cleaned_data["sms_end"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            flash.success(request, str(_entity_summary(request, saved)))
            return redirect("delivery:window")
    context = {"form": form, "saved": current is not None, "summary": _entity_summary(request, current)}
    return render(request, "delivery/window.html", context)


def _entity_summary(request: Any, row: SendingWindow | None) -> window_summary.WindowSummary:
    """The acting entity's effective SMS window: its own (``row``) within head office's and the law's."""
    entity = Entity.objects.get(pk=request.scope.entity_id)
    settings_row = _settings_row(request)
    if row is None:
        return window_summary.for_entity(settings_row, entity, [], None, None)
    return window_summary.for_entity(settings_row, entity, row.sms_days, row.sms_start, row.sms_end)


# -- HQ's test send from the template editor ---------------------------------------------------------


@require_http_methods(["POST"])
@scoped(Action.TEMPLATE_MANAGE)
def template_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the template's saved version to the seed addresses (``test_send.template_test_send``); the
    editor's form posts with htmx and gets the form back with the outcome, else a redirect to the editor."""
    template = get_object_or_404(creative_selectors.templates(), pk=pk)  # another scope's: 404
    addresses = request.POST.get("addresses", "")
    store_id = request.POST.get("store", "")
    store = (
        creative_selectors.personalisable_stores(template)
        .filter(pk=int(store_id) if store_id.isdigit() else 0)
        .first()
    )
    ts = test_send_form(template, store)
    ts.update(addresses=addresses)
    try:
        if store is None:
            raise ValidationError(_("Choose a store to render the test as."), code="no_store")
        result = test_send.template_test_send(template=template, store=store, addresses=addresses)
    except ValidationError as exc:
        ts["error"] = " ".join(exc.messages)
    else:
        ts["done"] = result.summary
        ts["addresses"] = "\n".join(result.sent)
    if getattr(request, "htmx", False):
        return render(request, "delivery/_test_send.html", {"template": template, "ts": ts})
    if "error" in ts:
        flash.error(request, ts["error"])
    else:
        flash.success(request, ts["done"])
    url = reverse("creatives:edit", args=[template.pk])
    return redirect(f"{url}?store={store.pk}" if store is not None else url)
