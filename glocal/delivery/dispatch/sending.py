"""Sending: a :class:`Dispatcher` (one sending thread) re-checks each small batch's campaign and
consent, renders and sends every message, and records the outcome (sent at once, in its own
transaction; a retry later; a permanent failure, with its consequence for the recipient)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from glocal.audience.models import Contact
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.core import jobs
from glocal.core.language import recipient_language
from glocal.core.scope import activate, system_scope
from glocal.creatives import rendering
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.sandbox import RenderError
from glocal.delivery.email_skeleton import Sender, VariantMail

from .. import bounces, feedback, launch, tracking
from ..models import Message, MessageEvent
from ..transports.base import TransportError
from ..transports.email_smtp import DkimKey
from ..transports.sms_http import Sms
from .marks import Accepted, SentWriter, record_sent
from .outbox import CLAIM_SIZE, _with_lock_retries, claim, release_claims
from .providers import EmailTransport, SmsTransport, dkim_key, email_transport, sms_transport

log = logging.getLogger(__name__)

RECHECK_SIZE = 25  # messages per consent re-check
CONTACT_FIELDS = (
    "id", "organisation_id", "first_name", "last_name", "email", "email_hash", "mobile", "mobile_hash",
    "city", "postcode", "attributes", "language",
)  # fmt: skip


def _event(message: Message, kind: str, at: dt.datetime, **detail: Any) -> MessageEvent:
    return MessageEvent(
        organisation_id=message.organisation_id, message=message, kind=kind, at=at, detail=detail
    )


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


def rented_recipient(message: Message) -> dict[str, Any]:
    """A rented list's recipient as a row of CONTACT_FIELDS: only the address (the list's rows may be
    purged before the message leaves); no contact, so id 0."""
    email = message.to_address if message.channel == "email" else ""
    mobile = message.to_address if message.channel == "sms" else ""
    return dict.fromkeys(CONTACT_FIELDS, "") | {"id": 0, "email": email, "mobile": mobile, "attributes": {}}


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class Dispatcher:
    """One sending thread: its own SMTP connection and SMS client, and a cache of compiled variants (one
    per campaign × the language its recipients read: :func:`glocal.core.language.recipient_language`)."""

    name: str
    email: EmailTransport | None = None
    sms: SmsTransport | None = None
    claim_size: int = CLAIM_SIZE
    marks: SentWriter | None = None  # the process's group commit of "sent" marks; None: one commit each
    _mails: dict[tuple[int, str], VariantMail] = field(default_factory=dict)
    _sms_variants: dict[tuple[int, str], rendering.Variant] = field(default_factory=dict)
    _campaigns: dict[int, Campaign] = field(default_factory=dict)
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
                # "sending" back at once instead of holding them until the lease ends — after the marks
                # of the messages it already handed to the writer are committed (else flagged).
                accepted = [] if self._accepted is None else [self._accepted]
                if self.marks is not None and not self.marks.sync():
                    accepted += self.marks.unrecorded(self.name)
                self._unreleased = release_claims(self.name, accepted=accepted) < 0
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
                rented = [m for m in chunk if m.contact_id is None and launch.is_rented(m.stable_id)]
                chunk = [m for m in chunk if m not in rented]
                if rented:
                    self._send_rented(rented, outcome)
                ids = [m.contact_id for m in chunk if m.contact_id]
                contacts = {
                    row["id"]: row for row in Contact.unscoped.filter(pk__in=ids).values(*CONTACT_FIELDS)
                }
                reachable = launch.reachable_ids(chunk[0].channel, ids) if chunk else set()
                gone = [m for m in chunk if m.contact_id not in reachable]
                self._skip(gone, Message.Status.SKIPPED, "unsubscribed or opposed since the launch", outcome)
                for message in chunk:
                    if message.contact_id in reachable:
                        self._send_one(message, contacts[message.contact_id], outcome)

    def _send_rented(self, messages: list[Message], outcome: Outcome) -> None:
        """A rented list's messages (no contact): the address is the message's own; the opposition list
        is read again by hash right before sending."""
        ok = launch.unopposed_rented(messages[0].organisation_id, messages)
        gone = [m for m in messages if m.pk not in ok]
        self._skip(gone, Message.Status.SKIPPED, "opposed since the launch", outcome)
        for message in messages:
            if message.pk in ok:
                self._send_one(message, rented_recipient(message), outcome)

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

    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            if len(self._campaigns) > 64:
                self._campaigns.clear()
            campaign = self._campaigns[campaign_id] = Campaign.unscoped.select_related(
                "version__template", "entity__organisation"
            ).get(pk=campaign_id)
        return campaign

    def _language(self, message: Message, contact: dict[str, Any] | None) -> str:
        """The language the recipient reads: theirs, else the store's, else the organisation's."""
        return recipient_language(contact, self._campaign(message.campaign_id).entity)

    def _campaign_variant(self, campaign_id: int, language: str) -> tuple[Campaign, rendering.Variant]:
        """The campaign's store variant (its version × store × content) in ``language``, built in its
        organisation's scope — never in the worker's active language."""
        campaign = self._campaign(campaign_id)
        with activate(system_scope(campaign.organisation_id)):
            variant = creative_selectors.build_variant(
                campaign.version, campaign.entity, campaign.values, language=language
            )
        return campaign, variant

    def _variant_mail(self, message: Message, language: str | None = None) -> VariantMail:
        """The campaign's email skeleton for readers of ``language`` (default: the store's)."""
        language = language or self._language(message, None)
        mail = self._mails.get((message.campaign_id, language))
        if mail is None:
            campaign, variant = self._campaign_variant(message.campaign_id, language)
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
            self._mails[(message.campaign_id, language)] = mail
        return mail

    def _sms_variant(self, message: Message, language: str) -> rendering.Variant:
        key = (message.campaign_id, language)
        variant = self._sms_variants.get(key)
        if variant is None:
            if len(self._sms_variants) > 64:
                self._sms_variants.clear()
            variant = self._sms_variants[key] = self._campaign_variant(message.campaign_id, language)[1]
        return variant

    def _deliver(self, message: Message, contact: dict[str, Any]) -> tuple[str, str]:
        """Send; returns (provider id, SMS body or "")."""
        recipient = recipient_context(contact)
        if message.channel == "email":
            if self.email is None:
                self.email = email_transport()
            mail = self._variant_mail(message, self._language(message, contact))
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
            rendered = rendering.render_sms(
                self._sms_variant(message, self._language(message, contact)), recipient, {}
            )
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
        if self.marks is not None and self.marks.alive():  # committed with others within milliseconds
            self.marks.submit(Accepted(message.pk, message.organisation_id, provider_id, body, self.name))
        else:
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
    is the time between the SMTP final "." and this commit) — a sender without a group commit
    (:class:`.marks.SentWriter`, the embedded worker's) does this for every message."""
    record_sent([Accepted(message.pk, message.organisation_id, provider_id, body, worker)])
