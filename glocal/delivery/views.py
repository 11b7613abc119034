"""Delivery pages: the recipient's endpoints (one-click unsubscribe, preference page, click redirect, open
pixel) and the store's pages (sent messages, a campaign's delivery report with every exclusion's reason,
HQ's delivery rules).

The recipient endpoints need no login, cookie or CSRF token; everything they trust comes from a signed
token or reference (``tokens`` / ``tracking``): anything else answers 404.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from glocal.accounts.client_ip import client_ip
from glocal.campaigns.models import Campaign
from glocal.core.language import recipient_language, speaking
from glocal.core.views_base import scoped
from glocal.network.roles import Action, role_allows, sees_personal_data

from . import services, tokens
from .models import DeliverySettings, Exclusion, Message, MessageEvent, SendingWindow
from .models import explain as explain_exclusion

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
        raise Http404
    # The recipient's pages, in the language their messages are written in (not their browser's).
    language = recipient_language(contact, contact.owner, contact.organisation)
    with speaking(language):
        if request.method == "POST":
            services.unsubscribe(claim, contact, ip=client_ip(request))  # the proof: declared proxies only
            response = render(request, "delivery/unsubscribed.html", {"channel": claim.channel}, status=200)
        else:
            context = {
                "channel": claim.channel,
                "subscribed": services.is_subscribed(contact, claim.channel),
                "token": token,
            }
            response = render(request, "delivery/preferences.html", context)
    response["Content-Language"] = language
    return response


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
        },
    )


class DeliverySettingsForm(forms.ModelForm):
    caps_text = forms.CharField(
        label=gettext_lazy("Pressure caps"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "One cap per line: limit, days, channel (email, sms, or empty for all channels). "
            "Example: 3, 7, email"
        ),
    )

    class Meta:
        model = DeliverySettings
        fields = ["priority", "count_scheduled", "sms_start", "sms_end", "sender_domain"]
        widgets = {
            "sms_start": forms.TimeInput(attrs={"type": "time"}),
            "sms_end": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        caps = self.instance.caps or []
        self.fields["caps_text"].initial = "\n".join(
            f"{c['limit']}, {c['days']}, {c.get('channel') or ''}".rstrip(", ") for c in caps
        )

    def clean_caps_text(self) -> list[dict[str, Any]]:
        return services.parse_caps(self.cleaned_data.get("caps_text", ""))


@scoped(Action.MARKETING_RULES)
def delivery_settings(request: Any) -> HttpResponse:
    instance = DeliverySettings.objects.filter(organisation_id=request.scope.organisation_id).first()
    instance = instance or DeliverySettings(organisation_id=request.scope.organisation_id)
    form = DeliverySettingsForm(request.POST or None, instance=instance)
    if not role_allows(request.scope.role, Action.NETWORK_SETTINGS):
        del form.fields["sender_domain"]  # an integration (DNS, DKIM): HQ admins'
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(form=form)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("delivery:settings")
    return render(request, "delivery/settings.html", {"form": form, "title": _("Delivery rules")})


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
            services.sending_window_save(
                days=form.cleaned_data["sms_days"],
                start=form.cleaned_data["sms_start"],
                end=form.cleaned_data["sms_end"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("delivery:window")
    return render(request, "delivery/window.html", {"form": form, "saved": current is not None})
