"""Dispatch: workers claim due outbox rows atomically, re-check consent, render and send them, and record
every state change.

Guarantees (COMPLIANCE.md, "Delivery reliability"):

- A row is claimed by one worker only: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
  ``UPDATE … WHERE status = 'queued'`` on SQLite (whose write transactions are serialised).
- A message is marked sent right after the provider accepted it, in its own transaction: a worker killed
  at any point loses nothing (its claimed rows go back to the queue once its heartbeat stops), and a
  duplicate is only possible between the SMTP final "." and that commit. An attempt whose outcome is
  unknown (connection lost after the ".") is retried and flagged ``possible_duplicate``.
- Consent and the opposition list are re-checked for every small batch right before it is sent: an
  unsubscribe takes effect before any further message goes out.
- Temporary failures come back later (``bounces.next_retry``: exponential backoff, bounded lifetime);
  permanent ones stop; a hard bounce puts the address on the opposition list; a sender-policy refusal
  (5.7.x) alerts the operator and keeps the recipient.
- Quiet hours and retries are ``not_before`` in the database, never a broker countdown.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from glocal.audience.models import Contact
from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.core import jobs
from glocal.core.models import WorkerHeartbeat
from glocal.core.scope import activate, system_scope
from glocal.creatives import rendering
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.sandbox import RenderError
from glocal.delivery.email_skeleton import Sender, VariantMail

from . import bounces, feedback, launch, tracking
from .models import Message, MessageEvent
from .transports.base import TransportError
from .transports.email_smtp import DkimKey, SmtpConnection, SmtpSettings, rate_limiter
from .transports.sms_http import JsonGateway, Sms, Twilio

log = logging.getLogger(__name__)

CLAIM_SIZE = 100  # rows per claim (one query); consent is re-checked per chunk of RECHECK_SIZE
RECHECK_SIZE = 25
CONTACT_FIELDS = (
    "id", "organisation_id", "first_name", "last_name", "email", "email_hash", "mobile", "mobile_hash",
    "city", "postcode", "attributes",
)  # fmt: skip
DONE = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.BOUNCED)
PENDING = (Message.Status.QUEUED, Message.Status.SENDING)


# -- transports, from the settings ----------------------------------------------------------------------


class EmailTransport(Protocol):
    def send_bytes(
        self, *, envelope_from: str, recipient: str, data: bytes, message_id: str, sign: Any = None
    ) -> Any: ...

    def close(self) -> None: ...


class SmsTransport(Protocol):
    def send(self, sms: Sms) -> Any: ...


@dataclass
class CaptureSms:
    """The demo's SMS "provider": the text is kept on the message row and shown on the sent-messages page."""

    name: str = "capture"

    def send(self, sms: Sms) -> Any:
        from .transports.sms_http import SmsSent

        return SmsSent(provider_id=f"capture-{sms.stable_id}", status="delivered")


class AnymailEmail:
    """Email through a provider API with django-anymail (``GLOCAL_EMAIL_PROVIDER`` = an Anymail backend
    path). The message built by Glocal is handed over as parts and headers; the stable id rides as the
    Message-ID and as the provider's metadata."""

    def __init__(self, backend: str) -> None:
        from django.core.mail import get_connection

        self.connection = get_connection(backend)

    def send_bytes(
        self, *, envelope_from: str, recipient: str, data: bytes, message_id: str, sign: Any = None
    ) -> Any:
        """``sign`` is not used: the provider builds and signs the message it sends."""
        from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
        from django.core.mail import EmailMultiAlternatives

        parsed = email.message_from_bytes(data, policy=email.policy.default)
        text = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        keep = ("Reply-To", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID")
        mail = EmailMultiAlternatives(
            subject=str(parsed["Subject"] or ""),
            body=text.get_content() if text is not None else "",
            from_email=str(parsed["From"]),
            to=[recipient],
            headers={k: str(parsed[k]) for k in keep if parsed[k]},
            connection=self.connection,
        )
        if html is not None:
            mail.attach_alternative(html.get_content(), "text/html")
        mail.metadata = {"glocal_id": message_id}  # type: ignore[attr-defined]
        try:
            mail.send()
        except AnymailRecipientsRefused as exc:
            raise TransportError(f"refused: {exc}", permanent=True, code=550, enhanced="5.1.1") from exc
        except AnymailAPIError as exc:
            status = getattr(exc, "status_code", None) or 0
            raise TransportError(
                f"provider: {exc}", permanent=400 <= status < 500 and status != 429, code=status or None
            ) from exc
        status = mail.anymail_status  # type: ignore[attr-defined]
        return status.message_id or message_id

    def close(self) -> None:
        self.connection.close()


def email_transport() -> EmailTransport:
    backend = getattr(settings, "GLOCAL_EMAIL_PROVIDER", "")
    if backend:
        return AnymailEmail(backend)
    limiter = None
    rate = float(getattr(settings, "GLOCAL_SMTP_RATE", 0) or 0)
    if rate:
        limiter = rate_limiter(
            f"smtp:{settings.EMAIL_HOST}:{settings.EMAIL_PORT}", rate, burst=max(1, int(rate))
        )
    return SmtpConnection(
        SmtpSettings(
            host=settings.GLOCAL_SMTP_HOST or settings.EMAIL_HOST,
            port=int(settings.GLOCAL_SMTP_PORT or settings.EMAIL_PORT),
            username=settings.EMAIL_HOST_USER,
            password=settings.EMAIL_HOST_PASSWORD,
            starttls=bool(settings.EMAIL_USE_TLS),
            timeout=float(getattr(settings, "GLOCAL_SMTP_TIMEOUT", 30)),
        ),
        limiter=limiter,
    )


def sms_transport() -> SmsTransport:
    provider = settings.GLOCAL_SMS_PROVIDER
    limiter = None
    rate = float(getattr(settings, "GLOCAL_SMS_RATE", 0) or 0)
    if rate:
        limiter = rate_limiter(f"sms:{provider}", rate, burst=max(1, int(rate)))
    if provider == "json":
        return JsonGateway(settings.GLOCAL_SMS_URL, settings.GLOCAL_SMS_TOKEN, limiter=limiter)
    if provider == "twilio":
        return Twilio(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            base_url=settings.TWILIO_API_URL,
            status_callback=f"{settings.GLOCAL_PUBLIC_URL.rstrip('/')}/hooks/sms/twilio/status/",
            limiter=limiter,
        )
    return CaptureSms()


def dkim_key() -> DkimKey | None:
    path = getattr(settings, "GLOCAL_DKIM_KEY_FILE", "")
    if not path:
        return None
    with open(path, "rb") as handle:
        return DkimKey(settings.GLOCAL_DKIM_DOMAIN, settings.GLOCAL_DKIM_SELECTOR, handle.read())


# -- claiming -----------------------------------------------------------------------------------------


def _event(message: Message, kind: str, at: dt.datetime, **detail: Any) -> MessageEvent:
    return MessageEvent(
        organisation_id=message.organisation_id, message=message, kind=kind, at=at, detail=detail
    )


def claim(worker: str, *, limit: int = CLAIM_SIZE, now: dt.datetime | None = None) -> list[Message]:
    """Take up to ``limit`` due rows for ``worker``; no other worker gets them."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Message.unscoped.filter(status=Message.Status.QUEUED, not_before__lte=now).order_by(
            "not_before", "id"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Message.unscoped.filter(id__in=ids, status=Message.Status.QUEUED).update(
            status=Message.Status.SENDING, claimed_by=worker, claimed_at=now, attempts=F("attempts") + 1
        )
        claimed = list(
            Message.unscoped.filter(
                id__in=ids, status=Message.Status.SENDING, claimed_by=worker, claimed_at=now
            )
            .only(
                "id", "organisation_id", "campaign_id", "contact_id", "channel", "stable_id", "attempts",
                "claimed_at", "first_attempt_at",
            )
            .order_by("id")
        )  # fmt: skip
        detail = json.dumps({"worker": worker})
        stamp = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:  # one statement for the batch, without the ORM's per-row cost
            cursor.executemany(
                f"INSERT INTO {MessageEvent._meta.db_table} (organisation_id, message_id, kind, at, detail)"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s)",
                [(m.organisation_id, m.pk, MessageEvent.Kind.CLAIMED, stamp, detail) for m in claimed],
            )
    return claimed


def alive_workers(now: dt.datetime) -> list[str]:
    stale = now - dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    return list(WorkerHeartbeat.objects.filter(last_seen__gte=stale).values_list("name", flat=True))


def _requeue(rows: list[tuple[int, int, str]], now: dt.datetime, **only: Any) -> int:
    """Back to the queue: ``rows`` (id, organisation, worker) that are still "sending" and match ``only``
    (the same conditions they were selected on: a row re-claimed meanwhile is left alone)."""
    ids = list(
        Message.unscoped.filter(
            id__in=[r[0] for r in rows], status=Message.Status.SENDING, **only
        ).values_list("id", flat=True)
    )
    Message.unscoped.filter(id__in=ids).update(status=Message.Status.QUEUED, claimed_by="")
    moved = set(ids)
    MessageEvent.unscoped.bulk_create(
        [
            MessageEvent(organisation_id=org, message_id=pk, kind=MessageEvent.Kind.REQUEUED, at=now,
                         detail={"worker": worker})
            for pk, org, worker in rows
            if pk in moved
        ]
    )  # fmt: skip
    return len(ids)


def _locked(queryset: Any) -> Any:
    """Rows locked for this transaction on PostgreSQL (others skip them); SQLite's immediate write
    transaction already serialises the read and the update."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def requeue_stale(*, now: dt.datetime | None = None) -> int:
    """Rows claimed by a worker that stopped beating (killed) go back to the queue, untouched otherwise."""
    now = now or timezone.now()
    grace = now - dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    lease = now - dt.timedelta(seconds=settings.GLOCAL_DELIVERY_LEASE_SECONDS)
    stuck = Message.unscoped.filter(status=Message.Status.SENDING, claimed_at__lt=grace)
    stuck = stuck.exclude(claimed_by__in=alive_workers(now)) | stuck.filter(claimed_at__lt=lease)
    with transaction.atomic():
        rows = list(_locked(stuck).values_list("id", "organisation_id", "claimed_by"))
        if not rows:
            return 0
        return _requeue(rows, now, claimed_at__lt=grace)


LOCK_RETRIES = 6  # a briefly locked database (another writer's commit) is waited for: ~3 s at most


def _with_lock_retries(write: Any) -> Any:
    """Run ``write`` (a function doing one transaction), again after a short pause while the database
    answers "locked": a commit lost after the provider accepted a message would become a duplicate."""
    for attempt in range(LOCK_RETRIES):
        try:
            return write()
        except OperationalError as error:
            if "locked" not in str(error) or attempt == LOCK_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def release_claims(worker: str, *, accepted: int | None = None) -> int:
    """A live worker gives back the rows it still holds (after an error in its batch). The one message a
    provider had already accepted, if any, is flagged as a possible duplicate: it will be sent again.
    Returns how many went back, or -1 when the database refused (the worker tries again later)."""
    now = timezone.now()

    def release() -> int:
        with transaction.atomic():
            mine = Message.unscoped.filter(status=Message.Status.SENDING, claimed_by=worker)
            rows = list(_locked(mine).values_list("id", "organisation_id", "claimed_by"))
            if accepted is not None:
                Message.unscoped.filter(pk=accepted, status=Message.Status.SENDING).update(
                    possible_duplicate=True
                )
            return _requeue(rows, now, claimed_by=worker) if rows else 0

    try:
        return _with_lock_retries(release)
    except Exception:  # the database is still unavailable: the worker tries again before its next claim
        log.exception("releasing the rows of %s failed", worker)
        return -1


# -- sending ------------------------------------------------------------------------------------------


def sender_domain(organisation_id: int) -> str:
    return launch.settings_for(organisation_id).sender_domain or settings.GLOCAL_SENDER_DOMAIN


def recipient_context(contact: dict[str, Any]) -> dict[str, Any]:
    """The recipient variables templates may use (plain values only), from a row of CONTACT_FIELDS."""
    attributes = contact["attributes"] if isinstance(contact["attributes"], dict) else {}
    return {
        "id": contact["id"],
        "first_name": contact["first_name"],
        "last_name": contact["last_name"],
        "email": contact["email"],
        "city": contact["city"],
        "postcode": contact["postcode"],
        "loyalty_points": str(attributes.get("loyalty_points", "")),
    }


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class Dispatcher:
    """One sending thread: its own SMTP connection and SMS client, and a cache of compiled variants."""

    name: str
    email: EmailTransport | None = None
    sms: SmsTransport | None = None
    claim_size: int = CLAIM_SIZE
    _mails: dict[int, VariantMail] = field(default_factory=dict)
    _sms_variants: dict[int, rendering.Variant] = field(default_factory=dict)
    _dkim: DkimKey | None | bool = False
    _last_beat: float = 0.0
    _accepted: int | None = None  # the message the provider accepted and the outbox does not know yet
    _unreleased: bool = False  # an error left rows "sending" and giving them back failed too

    def beat(self) -> None:
        """Tell the others this worker is alive (at most every third of the heartbeat period). Called
        before each message: a slow receiver must not make a live worker's claimed rows look orphaned."""
        if time.monotonic() - self._last_beat >= settings.GLOCAL_WORKER_HEARTBEAT_SECONDS / 3:
            jobs.beat(self.name, "delivery")
            self._last_beat = time.monotonic()

    def close(self) -> None:
        if self.email is not None:
            self.email.close()

    def run_once(self, *, now: dt.datetime | None = None) -> Outcome:
        if self._unreleased and release_claims(self.name) >= 0:
            self._unreleased = False  # rows an earlier error left "sending" are back in the queue
        batch = claim(self.name, limit=self.claim_size, now=now)
        outcome = Outcome()
        if batch:
            try:
                self.process(batch, outcome)
            except Exception:
                # A database error (or any other) in the middle of a batch: hand this worker's rows still
                # "sending" back at once instead of holding them until the lease ends.
                self._unreleased = release_claims(self.name, accepted=self._accepted) < 0
                self._accepted = None
                raise
        return outcome

    def process(self, batch: list[Message], outcome: Outcome) -> None:
        by_campaign: dict[int, list[Message]] = {}
        for message in batch:
            by_campaign.setdefault(message.campaign_id, []).append(message)
        for campaign_id, messages in by_campaign.items():
            for start in range(0, len(messages), RECHECK_SIZE):
                # The campaign's state and each contact's consent are read again right before each chunk.
                state = Campaign.unscoped.filter(pk=campaign_id).values_list("state", flat=True).first()
                chunk = self._still_mine(messages[start : start + RECHECK_SIZE])
                if not chunk:
                    continue
                if state in (None, State.CANCELLED, State.DRAFT):
                    self._skip(chunk, Message.Status.CANCELLED, "campaign cancelled", outcome)
                    continue
                ids = [m.contact_id for m in chunk if m.contact_id]
                contacts = {
                    row["id"]: row for row in Contact.unscoped.filter(pk__in=ids).values(*CONTACT_FIELDS)
                }
                reachable = launch.reachable_ids(chunk[0].channel, ids)
                gone = [m for m in chunk if m.contact_id not in reachable]
                self._skip(gone, Message.Status.SKIPPED, "unsubscribed or opposed since the launch", outcome)
                for message in chunk:
                    if message.contact_id in reachable:
                        self._send_one(message, contacts[message.contact_id], outcome)

    def _still_mine(self, chunk: list[Message]) -> list[Message]:
        """The rows of ``chunk`` this worker still holds. If it could not beat for a while (a database
        lock held by someone else), another worker may have requeued and taken some: never send those."""
        mine = set(
            Message.unscoped.filter(
                id__in=[m.pk for m in chunk], status=Message.Status.SENDING, claimed_by=self.name
            ).values_list("id", flat=True)
        )
        return [m for m in chunk if m.pk in mine]

    def _skip(self, messages: list[Message], status: str, why: str, outcome: Outcome) -> None:
        if not messages:
            return
        now = timezone.now()
        with transaction.atomic():
            Message.unscoped.filter(id__in=[m.pk for m in messages], status=Message.Status.SENDING).update(
                status=status, last_error=why
            )
            MessageEvent.unscoped.bulk_create(
                [_event(m, MessageEvent.Kind.SKIPPED, now, reason=why) for m in messages]
            )
        outcome.skipped += len(messages)

    # -- one message --------------------------------------------------------------------------------

    @staticmethod
    def _campaign_variant(campaign_id: int) -> tuple[Campaign, rendering.Variant]:
        """The campaign's store variant (its version × store × content), built in its organisation's scope."""
        campaign = Campaign.unscoped.select_related("version__template", "entity").get(pk=campaign_id)
        with activate(system_scope(campaign.organisation_id)):
            variant = creative_selectors.build_variant(campaign.version, campaign.entity, campaign.values)
        return campaign, variant

    def _variant_mail(self, message: Message) -> VariantMail:
        mail = self._mails.get(message.campaign_id)
        if mail is None:
            campaign, variant = self._campaign_variant(message.campaign_id)
            domain = sender_domain(campaign.organisation_id)
            store = campaign.entity
            mail = VariantMail(
                variant=variant,
                sender=Sender(
                    from_name=store.name,
                    from_address=f"{store.code.lower()}@{domain}",
                    message_id_domain=domain,
                    list_id=f"{launch.campaign_ref(campaign.pk)}.{store.code.lower()}.{domain}",
                    reply_to=store.email,
                    unsubscribe_mailto=f"unsubscribe@{domain}",
                ),
                public_url=settings.GLOCAL_PUBLIC_URL.rstrip("/"),
                campaign=launch.campaign_ref(campaign.pk),
                organisation_id=campaign.organisation_id,
                tracking_key=tracking.tracking_key(),
            )
            if len(self._mails) > 64:
                self._mails.clear()
            self._mails[message.campaign_id] = mail
        return mail

    def _sms_variant(self, message: Message) -> rendering.Variant:
        variant = self._sms_variants.get(message.campaign_id)
        if variant is None:
            variant = self._sms_variants[message.campaign_id] = self._campaign_variant(message.campaign_id)[1]
        return variant

    def _deliver(self, message: Message, contact: dict[str, Any]) -> tuple[str, str]:
        """Send; returns (provider id, SMS body or "")."""
        recipient = recipient_context(contact)
        if message.channel == "email":
            if self.email is None:
                self.email = email_transport()
            mail = self._variant_mail(message)
            data = mail.build(recipient)
            if self._dkim is False:
                self._dkim = dkim_key()
            # DKIM signs the form the transport actually sends (8bit, or 7-bit without 8BITMIME).
            sign = self._dkim.sign if isinstance(self._dkim, DkimKey) else None
            domain = mail.sender.message_id_domain
            sent = self.email.send_bytes(
                envelope_from=f"bounces@{domain}",
                recipient=contact["email"],
                data=data,
                sign=sign,
                message_id=f"<{tracking.make_ref(message.stable_id)}@{domain}>",  # signed: see feedback
            )
            return (sent if isinstance(sent, str) else ""), ""
        if message.channel == "sms":
            if self.sms is None:
                self.sms = sms_transport()
            rendered = rendering.render_sms(self._sms_variant(message), recipient, {})
            if rendered.errors:
                raise TransportError(f"render: {rendered.errors[0]}", permanent=True)
            sent = self.sms.send(
                Sms(
                    stable_id=message.stable_id,
                    reference=tracking.make_ref(message.stable_id),
                    to=contact["mobile"],
                    text=rendered.text,
                    sender=settings.GLOCAL_SMS_FROM,
                )
            )
            return str(getattr(sent, "provider_id", "")), rendered.text
        raise TransportError(f"no sender for the {message.channel} channel", permanent=True)

    def _send_one(self, message: Message, contact: dict[str, Any], outcome: Outcome) -> None:
        self.beat()  # a clock read unless a beat is due: a slow receiver never makes this worker look dead
        try:
            provider_id, body = self._deliver(message, contact)
        except TransportError as error:
            self._failed(message, Contact.unscoped.filter(pk=contact["id"]).first(), error, outcome)
            return
        except RenderError as error:  # the content itself cannot be rendered: retrying changes nothing
            failure = TransportError(f"render: {error}", permanent=True)
            self._failed(message, Contact.unscoped.filter(pk=contact["id"]).first(), failure, outcome)
            return
        except DatabaseError:
            raise  # the database, not the message: run_once hands the whole batch back
        except Exception as error:  # anything else before the provider accepted it: try again later
            log.exception("sending %s failed", message.stable_id)
            failure = TransportError(f"{type(error).__name__}: {error}")
            self._failed(message, Contact.unscoped.filter(pk=contact["id"]).first(), failure, outcome)
            return
        self._accepted = message.pk  # accepted by the provider, not yet recorded: the duplicate window
        _with_lock_retries(lambda: mark_sent(message, provider_id, body, self.name))
        self._accepted = None
        outcome.sent += 1

    def _failed(
        self, message: Message, contact: Contact | None, error: TransportError, outcome: Outcome
    ) -> None:
        now = timezone.now()
        first = message.first_attempt_at or message.claimed_at or now
        detail = {"error": str(error)[:300], "code": error.code, "enhanced": error.enhanced}
        changes: dict[str, Any] = {
            "last_error": str(error)[:300],
            "enhanced_code": (error.enhanced or "")[:10],
            "first_attempt_at": first,
        }
        if error.unknown_outcome:
            changes["possible_duplicate"] = True
        retry_at = None
        if not error.permanent:
            if error.unknown_outcome:
                retry_at = now + dt.timedelta(seconds=settings.GLOCAL_UNKNOWN_RETRY_SECONDS)
            else:
                retry_at = bounces.next_retry(
                    message.attempts,
                    first_failure_at=first,
                    now=now,
                    stable_id=message.stable_id,
                    base=dt.timedelta(seconds=settings.GLOCAL_RETRY_BASE_SECONDS),
                )
        with transaction.atomic():
            if retry_at is not None:
                Message.unscoped.filter(pk=message.pk, status=Message.Status.SENDING).update(
                    status=Message.Status.QUEUED, not_before=retry_at, claimed_by="", **changes
                )
                MessageEvent.unscoped.create(
                    organisation_id=message.organisation_id, message=message, kind=MessageEvent.Kind.RETRY,
                    at=now, detail={**detail, "retry_at": retry_at.isoformat()},
                )  # fmt: skip
                outcome.retried += 1
                return
            Message.unscoped.filter(pk=message.pk, status=Message.Status.SENDING).update(
                status=Message.Status.FAILED, **changes
            )
            # Only RFC 3463 codes are classified; a provider's own error number ("21610") is not one.
            enhanced = error.enhanced if bounces.ENHANCED_RE.fullmatch(error.enhanced or "") else None
            verdict = bounces.classify_enhanced(enhanced, code=error.code) if enhanced else None
            if verdict is not None and verdict.suppress:
                feedback.apply_hard_bounce(message, contact)
                detail["suppressed"] = True
            if verdict is not None and verdict.alert_operator:
                log.warning("sender policy refusal for %s: %s", message.stable_id, error)
                detail["operator_alert"] = True
            # SMS providers' own refusals: 21610 (the recipient replied STOP to them), invalid numbers.
            if feedback.provider_refusal(message, contact, error):
                detail["suppressed"] = True
            if getattr(error, "alert_operator", False):
                log.warning("provider refusal for %s needs the operator: %s", message.stable_id, error)
                detail["operator_alert"] = True
            MessageEvent.unscoped.create(
                organisation_id=message.organisation_id,
                message=message,
                kind=MessageEvent.Kind.FAILED,
                at=now,
                detail=detail,
            )
        outcome.failed += 1


def mark_sent(message: Message, provider_id: str, body: str, worker: str = "") -> None:
    """The provider accepted the message: record it at once, in its own transaction (the duplicate window
    is the time between the SMTP final "." and this commit). Two plain statements: this runs once per
    message on the hot path, where the ORM's query building cost more than the database."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # the ORM's own storage format
    table, events = Message._meta.db_table, MessageEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # A worker that could not beat (a long lock elsewhere) may have lost the row to another one,
        # which may send it too: then the row says "possible duplicate", so that it is counted.
        cursor.execute(
            f"UPDATE {table} SET status = %s, sent_at = %s, provider_id = %s, body = %s, last_error = '',"  # noqa: S608
            " possible_duplicate = (possible_duplicate OR claimed_by <> %s)"
            " WHERE id = %s AND status IN (%s, %s)",
            [Message.Status.SENT, now, provider_id[:120], body, worker, message.pk, *PENDING],
        )
        if cursor.rowcount == 0:  # already recorded as sent by the worker that took it over
            cursor.execute(f"UPDATE {table} SET possible_duplicate = %s WHERE id = %s", [True, message.pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {events} (organisation_id, message_id, kind, at, detail)"  # noqa: S608
            " VALUES (%s, %s, %s, %s, %s)",
            [message.organisation_id, message.pk, MessageEvent.Kind.SENT, now, "{}"],
        )


# -- the campaign's end -------------------------------------------------------------------------------


def finish_campaigns() -> int:
    """Campaigns in "sending" with nothing left to send are marked sent, with the count of messages the
    providers accepted (the proof of execution comes from the outbox)."""
    finished = 0
    sending = Campaign.unscoped.filter(state=State.SENDING).values_list("pk", "organisation_id")
    for campaign_id, organisation_id in list(sending):
        rows = Message.unscoped.filter(campaign_id=campaign_id)
        if rows.filter(status__in=PENDING).exists():  # an index probe: cheap on every tick
            continue
        counts = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        with activate(system_scope(organisation_id)), transaction.atomic():
            # Several workers tick at once: only the one that finds it still "sending", under the
            # campaign's row lock (SQLite: the immediate write transaction), closes it.
            campaign = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign_id)
            if campaign.state != State.SENDING:
                continue
            campaign_services.campaign_mark_sent(
                campaign=campaign, sent_count=sum(counts.get(s, 0) for s in DONE)
            )
        finished += 1
    return finished


def due_count(now: dt.datetime | None = None) -> int:
    return Message.unscoped.filter(
        status=Message.Status.QUEUED, not_before__lte=now or timezone.now()
    ).count()


def tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic housekeeping: apply the operations' passed deadlines (stores out, HQ defaults
    scheduled), launch due campaigns, requeue a dead worker's rows, close finished campaigns. Safe to
    run from several workers at once."""
    deadlines = campaign_services.close_due_deadlines(now=now)
    reports = launch.launch_due(now=now)
    return {
        "deadline_outs": deadlines["out"],
        "deadline_defaults": deadlines["defaults"],
        "launched": len(reports),
        "requeued": requeue_stale(now=now),
        "finished": finish_campaigns(),
    }


def drain(name: str, *, max_batches: int | None = None, stop: threading.Event | None = None) -> Outcome:
    """Send until nothing is due (or ``max_batches``): the loop of one sending thread."""
    dispatcher = Dispatcher(name)
    total = Outcome()
    batches = 0
    try:
        while (max_batches is None or batches < max_batches) and not (stop and stop.is_set()):
            dispatcher.beat()
            outcome = dispatcher.run_once()
            batches += 1
            if not (outcome.sent or outcome.retried or outcome.failed or outcome.skipped):
                break
            total.sent += outcome.sent
            total.retried += outcome.retried
            total.failed += outcome.failed
            total.skipped += outcome.skipped
    finally:
        dispatcher.close()
    return total


class DeliveryWorker:
    """The broker-less sender: ``threads`` sending loops plus the housekeeping tick, beating like the job
    worker so that another worker requeues its rows if it is killed."""

    def __init__(self, threads: int | None = None, poll_seconds: float = 1.0) -> None:
        self.threads = threads or settings.GLOCAL_DELIVERY_THREADS
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()
        self.name = jobs.worker_name("delivery")

    def _sender(self, index: int) -> None:
        name = f"{self.name}/{index}"
        while not self.stopped.is_set():
            try:
                outcome = drain(name, max_batches=50, stop=self.stopped)
                idle = not (outcome.sent or outcome.retried or outcome.failed or outcome.skipped)
            except Exception:  # keep sending; the row's own state says what happened
                log.exception("delivery loop error")
                idle = True
            if idle:
                self.stopped.wait(self.poll_seconds)

    def _housekeeping(self) -> None:
        while not self.stopped.is_set():
            try:
                jobs.beat(f"{self.name}/tick", "delivery")
                tick()
            except Exception:
                log.exception("delivery tick error")
            self.stopped.wait(self.poll_seconds)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._housekeeping, name="glocal-delivery-tick", daemon=True)]
        threads += [
            threading.Thread(target=self._sender, args=(i,), name=f"glocal-delivery-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for thread in threads:
            thread.start()
        return threads

    def stop(self) -> None:
        self.stopped.set()
