"""Lead capture pages: the public kiosk and web form (token-addressed, no login), the double opt-in
confirmation, a store's lead-capture settings (links, QR code, regenerate) and HQ's settings."""

from __future__ import annotations

from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from glocal.accounts.client_ip import client_ip
from glocal.core.http import ScopedRequest
from glocal.core.language import recipient_language, speaking
from glocal.core.roles import Action
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import leads
from .forms import CaptureSettingsForm, LeadCaptureForm
from .models import LeadForm


def _public_url(path: str) -> str:
    """Links that leave the request (emails, the tablet's QR code) use the configured public address."""
    return settings.GLOCAL_PUBLIC_URL.rstrip("/") + path


def _client_ip(request: HttpRequest) -> str | None:
    """The client's address for the per-client limits and the consent proof: the login code's helper,
    which trusts ``X-Forwarded-For`` only from the declared proxies (``GLOCAL_TRUSTED_PROXY_COUNT`` /
    ``GLOCAL_TRUSTED_PROXIES``); without them it is the TCP peer and a forged header changes nothing."""
    return client_ip(request) or None


def _capture(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    """The public form, in its store's language (``leads.form_language``: not the visitor's browser's,
    not the server's), its consent wording too: shown on a GET; a POST is screened (limits, validation,
    honeypot, render stamp), then recorded, then answered the same whoever the person is."""
    lead_form = leads.form_by_token(token, kind)
    if lead_form is None:
        raise Http404
    language = leads.form_language(lead_form.entity)
    with speaking(language):
        response = _capture_form(request, token, kind, lead_form)
    response["Content-Language"] = language
    return response


def _capture_form(request: HttpRequest, token: str, kind: str, lead_form: LeadForm) -> HttpResponse:
    config = leads.capture_settings(lead_form.organisation_id)
    if request.method != "POST":
        return _capture_page(request, kind, lead_form, LeadCaptureForm(config=config), config)
    form = LeadCaptureForm(request.POST, config=config)
    ip = _client_ip(request)
    status = _screened_out(form, ip=ip, token=token, config=config)
    if status is None:
        if form.cleaned_data.get("website"):  # honeypot: a robot; answer like a success, keep nothing
            return redirect(f"{request.path}?thanks=1")
        status = _stamp_refused(form, config)
    if status is None:
        answer = _record(request, form, lead_form=lead_form, kind=kind, ip=ip)
        if answer is not None:
            return answer
        status = 200  # a field the service refused: the form back with its errors
    return _capture_page(request, kind, lead_form, form, config, status)


def _screened_out(form: LeadCaptureForm, *, ip: str | None, token: str, config: Any) -> int | None:
    """The status to show the form back with when the post stops here — over the per-client or
    per-form limit (429: counted whether the form is valid or not) or invalid (200, with its errors)
    — or None when it goes on."""
    valid = form.is_valid()
    if leads.rate_limited(ip=ip, token=token, config=config):
        form.add_error(None, _("Too many entries for now. Please try again later."))
        return 429
    return None if valid else 200


def _stamp_refused(form: LeadCaptureForm, config: Any) -> int | None:
    """Check (and consume) the render stamp: the status to show the form back with when it was sent
    too fast (200) or is forged, expired or already used — a replay (400); None when it is good."""
    problem = leads.stamp_problem(form.cleaned_data.get("rendered", ""), config.min_fill_seconds)
    if problem is None:
        return None
    if problem == leads.StampProblem.TOO_FAST:
        form.add_error(None, _("The form was sent too quickly. Please check it and send it again."))
        return 200
    form.add_error(None, _("This form has expired or was already sent. Please send it again."))
    return 400


def _record(
    request: HttpRequest, form: LeadCaptureForm, *, lead_form: LeadForm, kind: str, ip: str | None
) -> HttpResponse | None:
    """Record the entry and answer it; None (the service's errors added to ``form``) when a field is
    refused."""
    try:
        result = leads.submit_lead(lead_form=lead_form, kind=kind, data=form.cleaned_data, ip=ip)
    except ValidationError as exc:
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
        return None
    return _confirm_and_answer(request, result, kind=kind, ip=ip)


def _confirm_and_answer(
    request: HttpRequest, result: leads.LeadResult, *, kind: str, ip: str | None
) -> HttpResponse:
    """Send the confirmations the entry asked for (the email link, the SMS code) and answer: the SMS
    code page when a number is to be confirmed, else the blank form with the thank-you message. The same
    answer whoever the address belongs to: nothing tells a known, opted-in or opposed person from a new
    one (what may be sent is decided inside leads)."""
    email = ""
    if result.pending_email is not None:
        token = leads.confirmation_token(result.pending_email)
        url = _public_url(reverse("targeting:confirm", kwargs={"token": token}))
        leads.send_confirmation(result.pending_email, url, ip=ip)
        email = "email=1"
    if result.pending_sms is not None:
        leads.send_sms_code(result.pending_sms, ip=ip)
        target = reverse("targeting:confirm_sms", kwargs={"token": leads.sms_token(result.pending_sms, kind)})
        return redirect(f"{target}?{email}" if email else target)
    # Post/redirect/get: the kiosk is back to a blank form, with the thank-you message.
    return redirect(f"{request.path}?thanks=1" + (f"&{email}" if email else ""))


def _capture_page(
    request: HttpRequest,
    kind: str,
    lead_form: LeadForm,
    form: LeadCaptureForm,
    config: Any,
    status: int = 200,
) -> HttpResponse:
    template = "targeting/leads/kiosk.html" if kind == LeadForm.Kind.KIOSK else "targeting/leads/embed.html"
    context = {
        "form": form,
        "stamp": leads.render_stamp(),  # a fresh render time for each display; the input stays
        "store": lead_form.entity,
        "thanks": request.GET.get("thanks") == "1",
        "email_sent": request.GET.get("email") == "1",
        "sms_confirmed": request.GET.get("sms") == "1",
    }
    return _public(render(request, template, context, status=status), kind, config)


def _public(response: HttpResponse, kind: str, config: Any) -> HttpResponse:
    """Headers of every public lead page: the web form (and its SMS code page) framable only by the
    sites HQ allowed, never cached, never indexed."""
    if kind == LeadForm.Kind.EMBED:
        ancestors = " ".join(["'self'", *config.frame_ancestors.split()])
        response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def kiosk(request: HttpRequest, token: str) -> HttpResponse:
    """The tablet at the counter: no login, no way to navigate away, back to a blank form after each
    entry. CSRF-protected (first-party page)."""
    return _capture(request, token, LeadForm.Kind.KIOSK)


@csrf_exempt  # embedded in the store's own site (third-party cookies are blocked in iframes); the
# signed render stamp, honeypot and rate limits protect it, and it acts for no logged-in user.
@xframe_options_exempt  # the only view that may be framed; frame-ancestors CSP limits by whom
def embed(request: HttpRequest, token: str) -> HttpResponse:
    return _capture(request, token, LeadForm.Kind.EMBED)


@csrf_exempt  # reached from the web form inside the store's site too (no cookie there); it acts for no
# logged-in user and needs the code texted to the number
@xframe_options_exempt  # framable like the web form, by the same sites (frame-ancestors CSP)
def confirm_sms(request: HttpRequest, token: str) -> HttpResponse:
    """SMS consent: the person types the code texted to the number; the opt-in enters the ledger only
    then. A wrong or expired code answers the same whatever the number's status."""
    found = leads.sms_pending_by_token(token)
    if found is None:
        raise Http404
    pending, kind = found
    language = leads.form_language(pending.entity)  # the next page of the form, in the form's language
    with speaking(language):
        response = _confirm_sms(request, pending, kind)
    response["Content-Language"] = language
    return response


def _confirm_sms(request: HttpRequest, pending: Any, kind: str) -> HttpResponse:
    config = leads.capture_settings(pending.organisation_id)
    error = None
    status = 200
    if request.method == "POST":
        if leads.confirm_sms(pending=pending, code=request.POST.get("code", ""), ip=_client_ip(request)):
            lead_form = leads.lead_form_of(pending.entity)
            if lead_form is None:  # the pending row came from this store's form: it exists
                raise Http404
            url = reverse(
                "targeting:kiosk" if kind == LeadForm.Kind.KIOSK else "targeting:embed",
                kwargs={"token": lead_form.token(kind)},
            )
            email = "&email=1" if request.GET.get("email") == "1" else ""
            return redirect(f"{url}?thanks=1&sms=1{email}")
        error = _("This code is wrong or has expired. Check the text message, or send the form again.")
        status = 400
    context = {"store": pending.entity, "error": error, "email_sent": request.GET.get("email") == "1"}
    return _public(render(request, "targeting/leads/confirm_sms.html", context, status=status), kind, config)


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Double opt-in: GET shows a button (mail scanners that prefetch links confirm nothing), POST
    confirms."""
    pending = leads.pending_by_token(token)
    if pending is None:
        raise Http404
    language = recipient_language(pending.contact, pending.entity)  # the person's, as their email was
    with speaking(language):
        confirmed = None
        if request.method == "POST":
            confirmed = leads.confirm_optin(pending=pending, ip=_client_ip(request))
        context = {"pending": pending, "store": pending.entity, "confirmed": confirmed}
        response = render(request, "targeting/leads/confirm.html", context)
    response["X-Robots-Tag"] = "noindex"
    response["Content-Language"] = language
    return response


# ---------------------------------------------------------------------------------------------------
# Settings (logged in)


def _stores(request: ScopedRequest) -> Any:
    return Entity.objects.filter(entity_type__is_local=True, is_active=True).order_by("name")


@scoped(Action.LEADS_MANAGE)
def lead_index(request: ScopedRequest) -> HttpResponse:
    stores = list(_stores(request)[:1000])
    return render(request, "targeting/leads/index.html", {"stores": stores})


def _qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=5, title=_("QR code of the kiosk link"))


@scoped(Action.LEADS_MANAGE)
def lead_store(request: ScopedRequest, pk: int) -> HttpResponse:
    """A store's lead capture: its kiosk link (with the QR code) and web form code — or, before they
    were made, a button that makes them (a POST here: showing the page writes nothing)."""
    store = get_object_or_404(_stores(request), pk=pk)
    if request.method == "POST":
        _lead_form, created = leads.lead_form_create(entity=store)
        if created:
            messages.success(request, _("The kiosk and web form links were made."))
        return redirect("targeting:lead_store", pk=store.pk)
    lead_form = leads.lead_form_of(store)
    config = leads.capture_settings(store.organisation_id)
    language = leads.form_language(store)
    context: dict[str, Any] = {
        "store": store,
        "lead_form": lead_form,
        "config": config,
        "form_language": language,
        # what the store's kiosk and web form show (and the ledger records): in the store's language
        "wording": {channel: config.wording(channel, language) for channel in ("email", "sms")},
    }
    if lead_form is not None:
        context.update(_links(store, lead_form))
    return render(request, "targeting/leads/store.html", context)


def _links(store: Entity, lead_form: LeadForm) -> dict[str, str]:
    kiosk_url = _public_url(reverse("targeting:kiosk", kwargs={"token": lead_form.kiosk_token}))
    embed_url = _public_url(reverse("targeting:embed", kwargs={"token": lead_form.embed_token}))
    return {
        "kiosk_url": kiosk_url,
        "embed_url": embed_url,
        "qr_svg": _qr_svg(kiosk_url),
        "snippet": f'<iframe src="{embed_url}" title="{store.name}" width="100%" height="720" '
        'style="border:0"></iframe>',
    }


@require_POST
@scoped(Action.LEADS_MANAGE)
def lead_regenerate(request: ScopedRequest, pk: int) -> HttpResponse:
    store = get_object_or_404(_stores(request), pk=pk)
    kind = request.POST.get("kind", "")
    lead_form = leads.lead_form_of(store)
    if lead_form is None:  # no link to replace yet: the store's first ones are made
        leads.lead_form_create(entity=store)
        messages.success(request, _("The kiosk and web form links were made."))
        return redirect("targeting:lead_store", pk=store.pk)
    try:
        leads.regenerate_token(lead_form=lead_form, kind=kind)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("A new link was made; the old one no longer works."))
    return redirect("targeting:lead_store", pk=store.pk)


@scoped(Action.AUDIENCE_SETTINGS)
def lead_settings(request: ScopedRequest) -> HttpResponse:
    config = leads.capture_settings(request.scope.organisation_id)
    form = CaptureSettingsForm(request.POST or None, instance=config)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if changes:
            if config.pk is not None:
                config.refresh_from_db()
            leads.capture_settings_update(changes=changes)
        messages.success(request, _("Lead capture settings saved."))
        return redirect("targeting:lead_settings")
    return render(request, "targeting/leads/settings.html", {"form": form})
