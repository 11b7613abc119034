"""Feedback: what providers and recipients send back once a message has left — SMS delivery receipts,
inbound SMS (STOP), bounce and complaint reports (DSN, RFC 3464; ARF, RFC 5965) and an email
provider's tracking events (django-anymail's ``tracking`` signal).

Rules (../shared/COMPLIANCE.md, "Email", "SMS", "Delivery reliability"):

- A hard bounce (5.1.x / 5.2.x, an invalid number) puts the address on the opposition list after one;
  a 4.x.x report is only recorded (the reporting MTA retries); a 5.7.x report alerts the operator and
  keeps the recipient; a complaint suppresses the address and records the objection.
- An inbound STOP (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ARRET, any case) is an opt-out on SMS
  for every contact with that number in every organisation that texted it; the number's hash goes on
  the opposition list even when no contact is left.
- Everything is idempotent: a replayed receipt, report or event records nothing more. The message row
  is locked while an event is checked for and written, so two concurrent deliveries of one webhook
  record once.

Lookups: a provider names a message by our signed reference (``tracking.make_ref``: the stable id and
its MAC — the Message-ID's local part, Anymail's ``glocal_id`` metadata, Twilio's ``?m=``) or by its own
id as recorded in ``Message.provider_id`` at send. A bare stable id (``g<campaign>-<contact>``) is
guessable: it is ignored with a log line, never applied, and so is a reference whose MAC is wrong. The
webhooks are authenticated (basic auth, bearer token, Twilio signature) but carry no user and no scope,
so messages are found with ``Message.unscoped`` — a signed reference is treated like a token lookup —
and consent changes run in the organisation's system scope.
"""

from __future__ import annotations

import email.errors
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from glocal.audience import services as audience_services
from glocal.audience.models import ConsentSource, ConsentStatus, Contact, Suppression, hash_value
from glocal.core.scope import activate, system_scope

from . import bounces, tracking
from .models import Message, MessageEvent
from .transports.sms_http import E164_RE, DeliveryReceipt, InboundSms, is_stop

log = logging.getLogger(__name__)

STOP_WORDING = "SMS STOP reply"
COMPLAINT_WORDING = "Marked as spam (feedback report)"
STABLE_ID_RE = re.compile(r"^g\d+-p?\d+$")  # p: a rented list row (no contact)
SIGNED_REF_RE = re.compile(r"^g\d+-p?\d+\.[0-9a-f]{16}$")
SMTP_CODE_RE = re.compile(r"(?<!\d)([245]\d\d)(?!\d)")

# The statuses a report may still move: a message on its way, accepted, or waiting for a retry after
# an unknown outcome (a "delivered" receipt then means the first attempt arrived: no resend).
IN_FLIGHT = (Message.Status.QUEUED, Message.Status.SENDING, Message.Status.SENT)
BOUNCEABLE = (*IN_FLIGHT, Message.Status.DELIVERED)  # a remote MTA may accept first and bounce later


@dataclass
class Feedback:
    """What one piece of feedback did: the message it names (None: unknown to us), the event kinds it
    recorded (empty on a replay), whether an address went on the opposition list, the contacts it
    opted out."""

    message: Message | None = None
    recorded: list[str] = field(default_factory=list)
    suppressed: bool = False
    opted_out: list[int] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.message is not None


# -- shared steps -------------------------------------------------------------------------------------


def stable_id_from(value: str | None) -> str | None:
    """The stable id named by our signed reference in "<g12-345.MAC@domain>", "g12-345.MAC@domain" or
    "g12-345.MAC"; None for anything else. A bare stable id ("g12-345", guessable) or a wrong MAC is
    logged and ignored: a forged reference never reaches a message."""
    if not value:
        return None
    local = str(value).strip().strip("<>").partition("@")[0].strip()
    if STABLE_ID_RE.match(local):
        log.warning("unsigned message reference %s ignored (a bare stable id is guessable)", local[:64])
        return None
    if not SIGNED_REF_RE.match(local):
        return None
    stable_id = tracking.read_ref(local)
    if stable_id is None:
        log.warning("forged message reference %s ignored (wrong MAC)", local[:64])
    return stable_id


def find_message(
    channel: str, *, stable_id: str | None = None, provider_id: str | None = None
) -> Message | None:
    """The message a provider's feedback names: by our signed reference first (``stable_id`` is the
    reference as received: unsigned or forged ones are ignored), else by the provider's own id."""
    # Signed reference or provider id lookup (authenticated webhook, no scope): see the module docstring.
    messages = Message.unscoped.filter(channel=channel)
    stable_id = stable_id_from(stable_id)
    if stable_id:
        found = messages.filter(stable_id=stable_id).first()
        if found is not None:
            return found
    if provider_id:
        return messages.filter(provider_id=provider_id[:120]).order_by("-id").first()
    return None


def _locked(message: Message) -> Message:
    """Re-read the row under a lock (PostgreSQL: FOR UPDATE; SQLite serialises write transactions), so
    that the "already recorded?" check and the write that follows are one step."""
    return Message.unscoped.select_for_update(of=("self",)).select_related("contact").get(pk=message.pk)


def _record_once(message: Message, kind: str, key: dict[str, Any] | None = None, /, **detail: Any) -> bool:
    """Append an event unless one of this kind (with the same ``key`` fields, when given) exists."""
    existing = MessageEvent.unscoped.filter(message_id=message.pk, kind=kind)
    if key:
        existing = existing.filter(**{f"detail__{name}": value for name, value in key.items()})
    if existing.exists():
        return False
    MessageEvent.unscoped.create(
        organisation_id=message.organisation_id,
        message_id=message.pk,
        kind=kind,
        at=timezone.now(),
        detail={**detail, **(key or {})},
    )
    return True


def _move(message: Message, status: str, allowed: Iterable[str], **changes: Any) -> bool:
    return bool(
        Message.unscoped.filter(pk=message.pk, status__in=list(allowed)).update(status=status, **changes)
    )


def _channel_of(message: Message) -> str:
    return "email" if message.channel == "email" else "sms"


def _address_of(contact: Contact, channel: str) -> str:
    return contact.email if channel == "email" else contact.mobile


def _suppress_address(message: Message, reason: str) -> None:
    """The address this message went to, on the opposition list for its channel (hash only)."""
    channel = _channel_of(message)
    address = message.to_address.strip().lower() if channel == "email" else message.to_address.strip()
    audience_services.suppress(
        organisation_id=message.organisation_id,
        channel=channel,
        hashes=[hash_value(address)],
        reason=reason,
    )


def apply_hard_bounce(message: Message, contact: Contact | None) -> None:
    """The address no longer exists: on the opposition list for the channel (hash only). Called by the
    dispatcher on a permanent refusal at send time and by the bounce feedback (dispatch → feedback only)."""
    if contact is None:
        return
    channel = "email" if message.channel == "email" else "sms"
    hashes = audience_services.channel_hashes(channel, contact.email_hash, contact.mobile_hash)
    audience_services.suppress(
        organisation_id=message.organisation_id,
        channel=channel,
        hashes=hashes,
        reason=Suppression.Reason.BOUNCE,
    )


def _hard_bounce(message: Message) -> None:
    """``apply_hard_bounce`` for the contact when the message went to their current address;
    otherwise (contact erased, address changed since) the hash of the address it actually went to."""
    contact = message.contact
    if contact is not None and _address_of(contact, _channel_of(message)) == message.to_address:
        apply_hard_bounce(message, contact)
    else:
        _suppress_address(message, Suppression.Reason.BOUNCE)


def _opt_out(contact: Contact, channel: str, *, source: str, wording: str) -> bool:
    """Record the objection (ledger + opposition list) unless it is already on record. True if new."""
    with activate(system_scope(contact.organisation_id)):
        current = Contact.unscoped.get(pk=contact.pk)
        already = getattr(current, f"consent_{channel}") == ConsentStatus.OPT_OUT
        if already and audience_services.is_suppressed(
            organisation_id=current.organisation_id,
            channel=channel,
            email=current.email,
            mobile=current.mobile,
        ):
            return False
        audience_services.contact_opt_out(contact=current, channel=channel, source=source, wording=wording)
    return True


def _complaint(message: Message, result: Feedback, **detail: Any) -> None:
    """Marked as spam: event, the address suppressed (reason complaint), the contact's email opt-out."""
    if _record_once(message, MessageEvent.Kind.COMPLAINT, **detail):
        result.recorded.append(MessageEvent.Kind.COMPLAINT)
    contact = message.contact
    if contact is not None and contact.email == message.to_address:
        hashes = audience_services.channel_hashes("email", contact.email_hash, contact.mobile_hash)
        audience_services.suppress(
            organisation_id=message.organisation_id,
            channel="email",
            hashes=hashes,
            reason=Suppression.Reason.COMPLAINT,
        )
    else:
        _suppress_address(message, Suppression.Reason.COMPLAINT)
    result.suppressed = True
    if contact is not None and _opt_out(
        contact, "email", source=ConsentSource.API, wording=COMPLAINT_WORDING
    ):
        result.opted_out.append(contact.pk)


def _bounce(
    message: Message, verdict: bounces.Classification, result: Feedback, *, status: str, **detail: Any
) -> None:
    """A permanent failure reported after the send: the message's status, its event, the opposition
    list for a hard bounce, an operator alert for a sender-policy refusal."""
    kind = MessageEvent.Kind.BOUNCED if status == Message.Status.BOUNCED else MessageEvent.Kind.FAILED
    detail = {**detail, "action": str(verdict.action), "enhanced": verdict.enhanced or ""}
    if verdict.suppress:
        _hard_bounce(message)
        result.suppressed = True
        detail["suppressed"] = True
    if verdict.alert_operator:
        log.warning("sender policy refusal reported for %s: %s", message.stable_id, verdict.text[:200])
        detail["operator_alert"] = True
    moved = _move(
        message,
        status,
        BOUNCEABLE,
        enhanced_code=(verdict.enhanced or "")[:10],
        last_error=(verdict.text or str(verdict.action))[:300],
    )
    if _record_once(message, kind, **detail) or moved:
        result.recorded.append(kind)


def _delivered(message: Message, result: Feedback, **detail: Any) -> None:
    if _record_once(message, MessageEvent.Kind.DELIVERED, **detail):
        result.recorded.append(MessageEvent.Kind.DELIVERED)
    if _move(message, Message.Status.DELIVERED, IN_FLIGHT):
        Message.unscoped.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=timezone.now())


# -- SMS ---------------------------------------------------------------------------------------------


def sms_receipt(provider_name: str, receipt: DeliveryReceipt) -> Feedback:
    """A delivery receipt (the JSON gateway's, or Twilio's status callback). Only final receipts count:
    delivered → DELIVERED; undelivered / failed → FAILED (a message waiting for a retry is left to it),
    and an invalid-number code suppresses the number. The same receipt twice records once."""
    message = find_message("sms", stable_id=receipt.stable_id, provider_id=receipt.provider_id)
    result = Feedback(message)
    if message is None:
        log.info("%s receipt for an unknown message (%s)", provider_name, receipt.provider_id[:40])
        return result
    if not receipt.final:
        return result
    key = {"provider": provider_name, "provider_id": receipt.provider_id[:120], "status": receipt.status}
    with transaction.atomic():
        message = result.message = _locked(message)
        if receipt.status == "delivered":
            _delivered(message, result, **key)
            return result
        detail: dict[str, Any] = {"error_code": receipt.error_code or ""}
        if receipt.invalid_number:
            _hard_bounce(message)
            result.suppressed = True
            detail["suppressed"] = True
        recorded = _record_once(message, MessageEvent.Kind.FAILED, key, **detail)
        if recorded:
            result.recorded.append(MessageEvent.Kind.FAILED)
            _move(
                message,
                Message.Status.FAILED,
                (Message.Status.SENT,),
                last_error=f"{provider_name}: {receipt.status} (error {receipt.error_code or '-'})"[:300],
                enhanced_code=(receipt.error_code or "")[:10],
            )
    return result


def provider_refusal(message: Message, contact: Contact | None, error: Exception) -> bool:
    """What a provider's refusal at send time says about the recipient (for ``dispatch``'s permanent
    failures): Twilio's 21610 — they replied STOP to this sender — is an opt-out on SMS (the number's
    hash on the opposition list even without a contact); 21211 / 21614 (not a mobile number) is a hard
    bounce. True when the number went on the opposition list."""
    opted_out = bool(getattr(error, "opted_out", False))
    invalid_number = bool(getattr(error, "invalid_number", False))
    if message.channel != "sms" or not (opted_out or invalid_number):
        return False
    if invalid_number:
        _hard_bounce(message)
        return True
    _suppress_address(message, Suppression.Reason.OPT_OUT)
    if contact is not None and contact.mobile == message.to_address:
        code = getattr(error, "twilio_code", None) or ""
        wording = f"SMS STOP reply recorded by the provider (error {code})"
        _opt_out(contact, "sms", source=ConsentSource.API, wording=wording)
    return True


def normalise_sender(number: str) -> str:
    """An inbound sender in E.164 ("+33612345678"); national French forms and "0033…" are accepted;
    "" when it is not a valid number."""
    raw = re.sub(r"[\s().-]", "", number or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    elif raw.isdigit() and not raw.startswith("0"):
        raw = "+" + raw
    if E164_RE.match(raw):
        return raw
    try:
        return audience_services.normalise_mobile(raw, "FR")
    except ValidationError:  # not a number we could have texted
        return ""


def sms_inbound(provider_name: str, inbound: InboundSms) -> Feedback:
    """An SMS a recipient sent us. A STOP keyword is an opt-out on SMS for every contact with that
    number in each organisation that texted it (the number's hash on the opposition list even if no
    contact remains), and an "unsubscribed" event on the latest message there. Anything else is only
    logged (not stored: it may be personal)."""
    result = Feedback()
    if not is_stop(inbound.text):
        size = len(inbound.text or "")
        log.info("%s inbound SMS that is not a STOP keyword (%d characters), ignored", provider_name, size)
        return result
    number = normalise_sender(inbound.sender)
    if not number:
        log.warning("%s STOP from an unreadable number, ignored", provider_name)
        return result
    # Organisation-wide by nature: an objection is brand-wide, whoever owns the contact.
    organisations = sorted(
        set(
            Message.unscoped.filter(channel="sms", to_address=number).values_list(
                "organisation_id", flat=True
            )
        )
    )
    if not organisations:
        log.info("%s STOP from a number we never texted, ignored", provider_name)
    for organisation_id in organisations:
        with transaction.atomic():
            audience_services.suppress(
                organisation_id=organisation_id,
                channel="sms",
                hashes=[hash_value(number)],
                reason=Suppression.Reason.OPT_OUT,
            )
            result.suppressed = True
            contacts = Contact.unscoped.filter(organisation_id=organisation_id, mobile=number).order_by("pk")
            for contact in contacts:
                if _opt_out(contact, "sms", source=ConsentSource.FORM, wording=STOP_WORDING):
                    result.opted_out.append(contact.pk)
            latest = (
                Message.unscoped.filter(organisation_id=organisation_id, channel="sms", to_address=number)
                .filter(
                    Q(sent_at__isnull=False) | Q(status__in=(Message.Status.SENT, Message.Status.DELIVERED))
                )
                .order_by("-sent_at", "-id")
                .first()
            )
            if latest is not None:
                latest = result.message = _locked(latest)
                if _record_once(latest, MessageEvent.Kind.UNSUBSCRIBED, source=f"{provider_name} STOP"):
                    result.recorded.append(MessageEvent.Kind.UNSUBSCRIBED)
    return result


# -- email: DSN and ARF reports ----------------------------------------------------------------------


def _applies_to(report_recipient: str, message: Message) -> bool:
    """A report's recipient must be the address we sent to (an empty one — ARF often redacts it — is
    accepted): a forwarded address bouncing is not our recipient's mailbox, and a forged report must
    name both the stable id and the address."""
    return not report_recipient or report_recipient.strip().lower() == message.to_address.strip().lower()


def read_report(raw: bytes) -> bounces.Report | None:
    """``bounces.parse_report`` that never raises on malformed input (None: not a report)."""
    try:
        return bounces.parse_report(raw)
    except (ValueError, TypeError, LookupError, AttributeError, email.errors.MessageError):
        log.info("unreadable report", exc_info=True)
        return None


def email_bounce_report(raw: bytes) -> Feedback | None:
    """A DSN (RFC 3464) or an ARF complaint (RFC 5965), as received by the bounce mailbox. None when
    ``raw`` is not a report. The message is the one whose Message-ID (in the report's copy of the
    headers) carries our stable id.

    DSN, per recipient: hard bounce → BOUNCED + event + opposition list; another permanent failure
    (5.7.x alerts the operator) → BOUNCED + event, recipient kept; "delayed" (4.x.x) → a retry event
    only; "delivered"/"relayed" → DELIVERED. ARF → a complaint event, the address suppressed (reason
    complaint) and the contact's email opt-out."""
    report = read_report(raw)
    if report is None:
        return None
    message = find_message("email", stable_id=report.original_message_id)
    result = Feedback(message)
    if message is None:
        log.info(
            "%s report for an unknown message (%s)", report.kind, (report.original_message_id or "")[:80]
        )
        return result
    source = "arf" if report.kind == "feedback" else "dsn"
    with transaction.atomic():
        message = result.message = _locked(message)
        for item in report.recipients:
            if not _applies_to(item.recipient, message):
                log.warning("%s report for %s names another recipient, ignored", source, message.stable_id)
                continue
            verdict = item.classification
            if verdict.action == bounces.BounceAction.COMPLAINT:
                _complaint(message, result, source=source, feedback_type=item.dsn_action)
            elif verdict.action == bounces.BounceAction.RETRY:
                key = {"source": source, "status": item.status or "", "diagnostic": item.diagnostic[:200]}
                if _record_once(message, MessageEvent.Kind.RETRY, key):
                    result.recorded.append(MessageEvent.Kind.RETRY)
            elif verdict.action == bounces.BounceAction.DELIVERED:
                _delivered(message, result, source=source)
            else:
                diagnostic = item.diagnostic[:300]
                _bounce(
                    message,
                    verdict,
                    result,
                    status=Message.Status.BOUNCED,
                    source=source,
                    diagnostic=diagnostic,
                )
    return result


# -- email: the provider's tracking events (django-anymail) ------------------------------------------

ANYMAIL_HANDLED = frozenset({"bounced", "rejected", "complained", "delivered", "unsubscribed"})


def _anymail_message(event: Any) -> Message | None:
    metadata = getattr(event, "metadata", None) or {}
    glocal_id = metadata.get("glocal_id") if isinstance(metadata, dict) else None
    provider_id = str(getattr(event, "message_id", "") or "")
    reference = str(glocal_id) if glocal_id else None
    return find_message("email", stable_id=reference, provider_id=provider_id or None)


def anymail_verdict(event: Any) -> bounces.Classification:
    """A bounced / rejected event's meaning: the SMTP reply in ``mta_response`` when there is one
    (5.1.x hard, 4.x.x temporary, 5.7.x sender policy…), else Anymail's normalised reject reason."""
    text = str(getattr(event, "mta_response", "") or getattr(event, "description", "") or "")
    code_match = SMTP_CODE_RE.search(text)
    code = int(code_match.group(1)) if code_match else None
    if bounces.parse_enhanced(text) or code is not None:
        verdict = bounces.classify_smtp(code, text)
        if verdict.action != bounces.BounceAction.DELIVERED:
            return verdict
    reason = str(getattr(event, "reject_reason", "") or "")
    action = {
        "invalid": bounces.BounceAction.HARD_BOUNCE,
        "bounced": bounces.BounceAction.HARD_BOUNCE,
        "blocked": bounces.BounceAction.SENDER_POLICY,
        "spam": bounces.BounceAction.COMPLAINT,
    }.get(reason, bounces.BounceAction.FAILED)
    return bounces.Classification(action, code, None, text or reason)


def anymail_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> Feedback | None:
    """Receiver of ``anymail.signals.tracking``: bounced / rejected → bounce (the SMTP reply decides:
    hard → suppressed, 4.x.x → a retry event only), complained → complaint, delivered → delivered,
    unsubscribed → the contact's email opt-out. Other events (opens, clicks…) are tracked by Glocal's
    own links. The message is the one named by ``metadata["glocal_id"]`` (our Message-ID, set at
    send) or the provider's message id."""
    event_type = str(getattr(event, "event_type", "") or "")
    if event_type not in ANYMAIL_HANDLED:
        return None
    message = _anymail_message(event)
    result = Feedback(message)
    if message is None:
        log.info("%s %s event for an unknown message", esp_name, event_type)
        return result
    detail = {"source": str(esp_name)[:40]}
    with transaction.atomic():
        message = result.message = _locked(message)
        if event_type == "delivered":
            _delivered(message, result, **detail)
        elif event_type == "complained":
            _complaint(message, result, **detail)
        elif event_type == "unsubscribed":
            if _record_once(message, MessageEvent.Kind.UNSUBSCRIBED, **detail):
                result.recorded.append(MessageEvent.Kind.UNSUBSCRIBED)
            contact = message.contact
            wording = f"Unsubscribed at the email provider ({esp_name})"[:200]
            if contact is not None and _opt_out(contact, "email", source=ConsentSource.API, wording=wording):
                result.opted_out.append(contact.pk)
            if contact is None:
                _suppress_address(message, Suppression.Reason.OPT_OUT)
                result.suppressed = True
        else:
            verdict = anymail_verdict(event)
            if verdict.action == bounces.BounceAction.COMPLAINT:
                _complaint(message, result, **detail)
            elif verdict.action == bounces.BounceAction.RETRY:
                key = {**detail, "event_id": str(getattr(event, "event_id", "") or "")[:80]}
                if _record_once(message, MessageEvent.Kind.RETRY, key, text=verdict.text[:200]):
                    result.recorded.append(MessageEvent.Kind.RETRY)
            else:
                status = Message.Status.BOUNCED if event_type == "bounced" else Message.Status.FAILED
                _bounce(message, verdict, result, status=status, **detail)
    return result
