"""Provider webhooks, under /hooks/: SMS receipts and inbound SMS (generic JSON gateway, Twilio), bounce
and complaint reports (a raw DSN / ARF message posted by the bounce mailbox's forwarder), an email
provider's tracking events (Anymail's Postmark view, wrapped here as :class:`PostmarkTracking`).

Each request is authenticated before anything is read into the database: a bearer token
(``GLOCAL_SMS_WEBHOOK_TOKEN``, ``GLOCAL_BOUNCE_WEBHOOK_TOKEN``, compared in constant time), Twilio's
``X-Twilio-Signature`` (HMAC-SHA1 of ``GLOCAL_PUBLIC_URL`` + path + query and the POST fields, with
``TWILIO_AUTH_TOKEN``) or HTTP basic auth equal to ``ANYMAIL["WEBHOOK_SECRET"]`` (Anymail's views).
An empty setting refuses every request (fail closed — Anymail alone would accept all with a warning).
Wrong or missing credentials answer 403 (401 with a Basic challenge for Anymail's) and change nothing;
a malformed body answers 400 with the reason, never 500. Every view here carries
``glocal_webhook_auth``: the deploy check (``checks.webhook_views``) refuses any other view mounted
under hooks/ and any Anymail view that is not wrapped.
The services (``feedback``) are idempotent, so a provider's retries are harmless. No cookie, session or
CSRF token is involved: the views are ``csrf_exempt`` and act only on what the provider names.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.utils import get_request_basic_auth
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import feedback
from .transports.sms_http import DeliveryReceipt, InboundSms, JsonGateway, Twilio

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_BATCH = 1000  # receipts in one JSON request


class BadRequest(Exception):
    """The body cannot be read: answered 400 with this reason."""


def _error(reason: str, status: int) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _forbidden() -> JsonResponse:
    return _error("forbidden", 403)


def webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, no CSRF token, never cached; an unreadable body is a 400 with its reason."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        try:
            return view(request)
        except BadRequest as exc:
            return _error(str(exc), 400)
        except RequestDataTooBig:
            return _error("body too large", 413)
        except (MultiPartParserError, SuspiciousOperation, UnicodeDecodeError):
            return _error("unreadable body", 400)

    view_function = csrf_exempt(never_cache(require_POST(wrapped)))
    view_function.glocal_webhook_auth = True  # type: ignore[attr-defined]
    return view_function


# -- authentication -----------------------------------------------------------------------------------


def bearer_ok(request: HttpRequest, setting: str) -> bool:
    """``Authorization: Bearer <token>`` equal (constant time) to ``settings.<setting>``, a non-empty
    string."""
    expected = str(getattr(settings, setting, "") or "")
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def anymail_secrets() -> list[str]:
    """The accepted ``user:password`` strings of Anymail's webhooks (``ANYMAIL["WEBHOOK_SECRET"]``: one
    string, or a list during a rotation); empty ones are dropped."""
    configured = (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET") or []
    secrets = [configured] if isinstance(configured, str) else list(configured)
    return [str(secret) for secret in secrets if secret]


def basic_ok(request: HttpRequest) -> bool:
    """HTTP basic auth equal (constant time) to one of :func:`anymail_secrets`; False when none is set."""
    given = (get_request_basic_auth(request) or "").encode()
    matches = [hmac.compare_digest(given, secret.encode()) for secret in anymail_secrets()]
    return any(matches)


class FailClosedAnymail:
    """Mixin for Anymail's webhook views: basic auth is checked first and is mandatory (Anymail accepts
    every call when ``WEBHOOK_SECRET`` is unset); a refusal answers 401 with a Basic challenge and
    changes nothing. Anymail's own validators (its basic auth, a provider's signature) still run after."""

    glocal_webhook_auth = True

    def __init__(self, **kwargs: Any) -> None:
        with warnings.catch_warnings():  # an unset secret is refused below, not merely warned about
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            super().__init__(**kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not basic_ok(request):
            log.warning("%s webhook call refused: missing or wrong credentials", self.esp_name)  # type: ignore[attr-defined]
            response = _error("unauthorized", 401)
            response["WWW-Authenticate"] = 'Basic realm="glocal-webhooks"'
            return response
        return super().post(request, *args, **kwargs)  # type: ignore[misc]


class PostmarkTracking(FailClosedAnymail, PostmarkTrackingWebhookView):
    """Postmark's tracking webhook (bounces, complaints, deliveries, unsubscribes) → ``feedback``."""


def twilio_client() -> Twilio:
    return Twilio(getattr(settings, "TWILIO_ACCOUNT_SID", ""), getattr(settings, "TWILIO_AUTH_TOKEN", ""))


def public_url(request: HttpRequest) -> str:
    """The URL the provider called, as configured at the provider: the public base (never the Host
    header, which a proxy may rewrite) + path + query."""
    return str(getattr(settings, "GLOCAL_PUBLIC_URL", "")).rstrip("/") + request.get_full_path()


def twilio_form(request: HttpRequest) -> dict[str, str]:
    """The POST fields of a Twilio webhook, once its signature is verified; else PermissionError."""
    form = {key: str(value) for key, value in request.POST.items()}
    if not getattr(settings, "TWILIO_AUTH_TOKEN", ""):
        raise PermissionError("TWILIO_AUTH_TOKEN is not set")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not twilio_client().verify_signature(public_url(request), form, signature):
        raise PermissionError("bad signature")
    return form


# -- bodies ------------------------------------------------------------------------------------------


def json_objects(request: HttpRequest) -> list[Mapping[str, Any]]:
    """The JSON body: one object or a list of objects."""
    try:
        data = json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    except ValueError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise BadRequest("expected a JSON object or a list of objects")
    if len(items) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} objects per request")
    return items


def _check_field(payload: Mapping[str, Any], name: str, *, required: bool = False) -> None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f'"{name}" is required')
        return
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 1600:
        raise BadRequest(f'"{name}" must be a string')


def json_receipt(payload: Mapping[str, Any]) -> DeliveryReceipt:
    _check_field(payload, "id", required=True)
    for name in ("status", "error_code", "idempotency_key"):
        _check_field(payload, name)
    return JsonGateway.parse_receipt(payload)


def json_inbound(payload: Mapping[str, Any]) -> InboundSms:
    _check_field(payload, "from", required=True)
    for name in ("to", "text"):
        _check_field(payload, name)
    return JsonGateway.parse_inbound(payload)


# -- the generic JSON gateway ---------------------------------------------------------------------------


@webhook
def sms_json_receipt(request: HttpRequest) -> HttpResponse:
    """Delivery receipts: ``{"id", "status", "error_code"?, "idempotency_key"?}`` or a list of them."""
    if not bearer_ok(request, "GLOCAL_SMS_WEBHOOK_TOKEN"):
        return _forbidden()
    receipts = [json_receipt(item) for item in json_objects(request)]  # all read before any is applied
    matched = sum(feedback.sms_receipt("json", receipt).matched for receipt in receipts)
    return JsonResponse({"received": len(receipts), "matched": matched})


@webhook
def sms_json_inbound(request: HttpRequest) -> HttpResponse:
    """Inbound SMS: ``{"from", "to", "text"}`` or a list of them."""
    if not bearer_ok(request, "GLOCAL_SMS_WEBHOOK_TOKEN"):
        return _forbidden()
    messages = [json_inbound(item) for item in json_objects(request)]
    opted_out = sum(len(feedback.sms_inbound("json", inbound).opted_out) for inbound in messages)
    return JsonResponse({"received": len(messages), "opted_out": opted_out})


# -- Twilio -------------------------------------------------------------------------------------------


@webhook
def sms_twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback (MessageSid, MessageStatus, ErrorCode; our stable id in ``?m=``)."""
    try:
        form = twilio_form(request)
    except PermissionError:
        return _forbidden()
    if not form.get("MessageSid"):
        raise BadRequest('"MessageSid" is required')
    query = {key: str(value) for key, value in request.GET.items()}
    feedback.sms_receipt("twilio", Twilio.parse_status_callback(form, query))
    return HttpResponse(status=204)


@webhook
def sms_twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's incoming-message webhook (From, To, Body); answers empty TwiML (no reply SMS)."""
    try:
        form = twilio_form(request)
    except PermissionError:
        return _forbidden()
    if not form.get("From"):
        raise BadRequest('"From" is required')
    feedback.sms_inbound("twilio", Twilio.parse_inbound(form))
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


# -- bounce and complaint reports ---------------------------------------------------------------------


@webhook
def email_bounce(request: HttpRequest) -> HttpResponse:
    """One raw message (a DSN or an ARF report) as received by the bounce mailbox."""
    if not bearer_ok(request, "GLOCAL_BOUNCE_WEBHOOK_TOKEN"):
        return _forbidden()
    raw = request.body
    if not raw.strip():
        raise BadRequest("empty body: post the raw report message")
    result = feedback.email_bounce_report(raw)
    if result is None:
        raise BadRequest("not a delivery status (RFC 3464) or feedback (RFC 5965) report")
    return JsonResponse({"matched": result.matched, "recorded": result.recorded})
