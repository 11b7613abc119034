"""Local lead capture: the kiosk and the embeddable web form of a store, double opt-in by email.

A public form is addressed by an unguessable per-store token (no login). Each submission runs in the
store's scope (a scope built from the token's store, never from the payload), so the new contact is a
PROSPECT owned by that store. Deduplication follows the core (``audience.services.find_duplicate``,
organisation-wide): an existing person is never duplicated, never moved to another owner and never
has their profile overwritten by an anonymous form; only the consents they give are recorded.

Consent: one unticked box per channel (email, SMS) showing the wording HQ set; the ledger records that
exact wording with the form version, IP, timestamp and ``source=form``. A consent becomes an opt-in only
once the person confirms it (``PendingOptIn``): email through the signed link sent to the address, SMS
with the code texted to the number and entered on the confirmation page. Anyone may type anyone's
address, so a submission changes no existing contact and reveals nothing about them (the answer is the
same whether the person is known, opted in or on the opposition list).

Objections: only the person lifts their own objection, and their confirmation is how they do it. A
person on the opposition list (or with an opt-out on record) gets the confirmation like anyone else,
within the same per-address and per-client limits; nothing changes until they confirm, and their
confirmation reaches ``audience.consent_record`` with a ``PersonalConfirmation("double_opt_in", …)``
naming the pending row, which lifts the objection on that channel (proof in the ledger row, audit
event ``consent.lift``). A form alone, staff, an import or the API never lift it.

Anti-abuse without third parties, in the shared cache (``CACHES``: Redis or the database, never a
per-process memory): a single-use render stamp (signed [nonce, time]; the nonce is stored when the form
is rendered and consumed by the first post), a minimum fill time and a maximum age read from it,
per-IP and per-token rate limits, per-address and per-IP limits on confirmation messages, a honeypot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.audience import services as audience
from glocal.audience.models import Channel, ConsentSource, ConsentStatus, Contact
from glocal.core import audit, ratelimit
from glocal.core.language import for_recipient, recipient_language, supported
from glocal.core.roles import Role
from glocal.core.scope import Scope, activate, current_scope, get_scope
from glocal.network.models import Entity

from .models import LeadCaptureSettings, LeadForm, PendingOptIn, default_wording, new_token

log = logging.getLogger(__name__)

CHANNELS = (Channel.EMAIL, Channel.SMS)
CONFIRM_SALT = "glocal.targeting.optin"
SMS_CONFIRM_SALT = "glocal.targeting.sms-optin"
RENDER_SALT = "glocal.targeting.rendered.v2"
CONFIRM_MAX_AGE = 14 * 24 * 3600  # the confirmation link lasts two weeks
SMS_CODE_MAX_AGE = 15 * 60  # a texted code lasts 15 minutes…
SMS_CODE_ATTEMPTS = 5  # …and survives 5 wrong entries
RATE_WINDOW = 3600
SEND_ADDRESS_WINDOW = 24 * 3600


# The consent wording per language: HQ's own (``LeadCaptureSettings.wording``), else the default
# (``models.DEFAULT_WORDING``) translated. A public form is written in its store's language (else the
# organisation's: :func:`form_language`) whatever the visitor's browser or the server's language, and the
# ledger records the text shown. Keys of ``capture_settings_update``: ``email_wording`` / ``sms_wording``
# (the organisation's language) and ``email_wording_<language>`` / ``sms_wording_<language>``.
WORDING_KEY = re.compile(r"^(email|sms)_wording(?:_([a-z]{2,3}))?$")


def capture_settings(organisation_id: int) -> LeadCaptureSettings:
    """The organisation's lead capture settings; the defaults (unsaved: the default wording in every
    language) until HQ first saves them: reading never writes (``capture_settings_update`` creates the
    row)."""
    found = LeadCaptureSettings.unscoped.filter(organisation_id=organisation_id).first()
    return found or LeadCaptureSettings(organisation_id=organisation_id)


def form_language(store: Entity) -> str:
    """The language a store's public forms are written in: the store's, else the organisation's (a
    visitor is nobody the organisation knows yet)."""
    return recipient_language(None, store)


def set_wording(config: LeadCaptureSettings, channel: str, language: str, text: str) -> None:
    """HQ's consent wording for ``channel`` in ``language`` (not saved); empty, or the default word for
    word, means the default: it then follows the default's translation."""
    text = str(text or "").strip()
    if text == default_wording(channel, language):
        text = ""
    if language == config.language:
        setattr(config, f"{channel}_wording", text)
        return
    wordings = {k: dict(v) for k, v in (config.wordings or {}).items() if isinstance(v, dict)}
    own = wordings.setdefault(language, {})
    if text:
        own[channel] = text
    else:
        own.pop(channel, None)
    config.wordings = {k: v for k, v in wordings.items() if v}


def capture_settings_update(*, changes: dict[str, Any]) -> LeadCaptureSettings:
    """HQ changes the wording (per language: see :data:`WORDING_KEY`), form version, embedding policy or
    anti-abuse thresholds."""
    scope = get_scope()
    obj = capture_settings(scope.organisation_id)
    with transaction.atomic():
        for name, value in changes.items():
            wording = WORDING_KEY.match(name)
            if wording is not None:
                set_wording(obj, wording.group(1), supported(wording.group(2)) or obj.language, value)
            else:
                setattr(obj, name, value)
        obj.full_clean()
        obj.save()
        audit.record(
            action="leads.settings", summary=", ".join(sorted(changes)), data={"fields": sorted(changes)}
        )
    return obj


def lead_form_of(entity: Entity) -> LeadForm | None:
    """The store's lead form (its kiosk and web form links), or None before they were made: reading
    never writes (``lead_form_create`` makes them). ``entity`` was fetched through the caller's scope."""
    return LeadForm.unscoped.filter(entity=entity).first()


def lead_form_create(*, entity: Entity) -> tuple[LeadForm, bool]:
    """Make the store's kiosk and web form links (its lead form): the "create" button of the store's
    lead capture page. Returns ``(form, created)``: a second click, or two managers at once, get the
    links already made. Audited on the store, in the active scope (the store's own when none is active:
    set-up code). ``entity`` was fetched through the caller's scope."""
    with transaction.atomic():
        form, created = LeadForm.unscoped.get_or_create(
            entity=entity, defaults={"organisation_id": entity.organisation_id}
        )
        if created:
            with activate(current_scope() or store_scope(entity)):
                audit.record(
                    action="leads.create",
                    summary=f"{entity.code}: kiosk and web form links",
                    entity_id=entity.pk,
                    data={"store": entity.pk},
                )
    return form, created


def lead_form_for(entity: Entity) -> LeadForm:
    """The store's lead form, made when it is missing (``lead_form_create``): for services and set-up
    code. A page shown on a GET reads ``lead_form_of`` and writes nothing."""
    return lead_form_of(entity) or lead_form_create(entity=entity)[0]


def regenerate_token(*, lead_form: LeadForm, kind: str) -> LeadForm:
    """A new token for the kiosk or the web form: the old link stops working at once."""
    if kind not in LeadForm.Kind.values:
        raise ValidationError(_("Unknown form."))
    name = "kiosk_token" if kind == LeadForm.Kind.KIOSK else "embed_token"
    with transaction.atomic():
        setattr(lead_form, name, new_token())
        lead_form.regenerated_at = timezone.now()
        lead_form.save(update_fields=[name, "regenerated_at"])
        audit.record(
            action="leads.regenerate", summary=kind, entity_id=lead_form.entity_id, data={"kind": kind}
        )
    return lead_form


def form_by_token(token: str, kind: str) -> LeadForm | None:
    """The active store's form addressed by ``token`` (public lookup, hence unscoped: the token is the
    credential), or None."""
    if not token or len(token) > 64:
        return None
    lookup = {"kiosk_token": token} if kind == LeadForm.Kind.KIOSK else {"embed_token": token}
    return (
        LeadForm.unscoped.select_related("entity", "organisation")
        .filter(entity__is_active=True, **lookup)
        .first()
    )


def store_scope(entity: Entity) -> Scope:
    """The scope a public submission runs in: the store itself, no user."""
    return Scope(
        organisation_id=entity.organisation_id,
        entity_id=entity.pk,
        entity_path=entity.path,
        role=Role.LOCAL_STAFF,
    )


# ---------------------------------------------------------------------------------------------------
# Anti-abuse


def _stamp_key(nonce: str) -> str:
    return f"leads:stamp:{nonce}"


def stamp_max_age() -> int:
    return int(getattr(settings, "GLOCAL_LEAD_STAMP_MAX_AGE", 7200))


def render_stamp(now: float | None = None) -> str:
    """A single-use stamp put in the form when it is rendered: signed ``[nonce, render time]``, the nonce
    kept in the shared cache until the first post consumes it (or it expires)."""
    nonce = secrets.token_urlsafe(18)
    cache.set(_stamp_key(nonce), 1, stamp_max_age() + 60)
    return signing.dumps([nonce, now if now is not None else time.time()], salt=RENDER_SALT)


class StampProblem:
    FORGED = "forged"  # missing, tampered or of another format
    EXPIRED = "expired"  # older than GLOCAL_LEAD_STAMP_MAX_AGE
    TOO_FAST = "too_fast"  # sooner than the minimum fill time
    USED = "used"  # already posted once (a replay), or never issued


def stamp_problem(stamp: str, minimum: int, now: float | None = None) -> str | None:
    """None when ``stamp`` is genuine, old enough, not expired and not used yet — and then consumes it
    (a second post with it is refused). A stamp posted too fast stays unused: the form is shown again."""
    try:
        nonce, rendered = signing.loads(stamp or "", salt=RENDER_SALT)
        nonce, rendered = str(nonce), float(rendered)
    except (signing.BadSignature, TypeError, ValueError):
        return StampProblem.FORGED
    age = (now if now is not None else time.time()) - rendered
    if age > stamp_max_age():
        return StampProblem.EXPIRED
    if age < minimum:
        return StampProblem.TOO_FAST
    if not cache.delete(_stamp_key(nonce)):  # atomic in Redis and the database: one winner
        return StampProblem.USED
    return None


def filled_too_fast(stamp: str, minimum: int, now: float | None = None) -> bool:
    """True when ``stamp`` is not acceptable (see :func:`stamp_problem`; consumes it otherwise)."""
    return stamp_problem(stamp, minimum, now) is not None


def _over(key: str, limit: int, window: int = RATE_WINDOW) -> bool:
    """Count one hit in the current window for ``key``; True when it is beyond ``limit``. Shared by every
    process, and atomic on Redis and on the database cache alike (``glocal.core.ratelimit``)."""
    return not ratelimit.within(f"leads:{key}", limit, window)


def rate_limited(*, ip: str | None, token: str, config: LeadCaptureSettings) -> bool:
    """Count this submission against the per-IP and per-token limits; True when over either."""
    over_ip = _over(f"ip:{config.organisation_id}:{ip or '-'}", config.ip_limit_per_hour)
    over_token = _over(f"token:{token}", config.token_limit_per_hour)
    return over_ip or over_token


def may_send_confirmation(*, address: str, ip: str | None) -> bool:
    """Count one confirmation message (email link or SMS code) to ``address`` asked from ``ip``; False
    when over ``GLOCAL_LEAD_SENDS_PER_ADDRESS`` a day for that address or ``GLOCAL_LEAD_SENDS_PER_IP``
    an hour from that client: nobody can make Glocal message a stranger repeatedly."""
    per_address = int(getattr(settings, "GLOCAL_LEAD_SENDS_PER_ADDRESS", 3))
    per_ip = int(getattr(settings, "GLOCAL_LEAD_SENDS_PER_IP", 30))
    over_address = _over(f"send:{audience.hash_value(address)}", per_address, SEND_ADDRESS_WINDOW)
    over_ip = _over(f"send-ip:{ip or '-'}", per_ip)
    if over_address or over_ip:
        log.warning("lead confirmation not sent: %s limit reached", "address" if over_address else "client")
        return False
    return True


# ---------------------------------------------------------------------------------------------------
# Submissions


@dataclass
class LeadResult:
    contact_id: int | None = None
    created: bool = False
    recorded: list[str] = field(default_factory=list)  # channels opted in now (never by the form alone)
    pending_email: PendingOptIn | None = None  # waiting for the link's confirmation
    pending_sms: PendingOptIn | None = None  # waiting for the texted code
    refused: list[str] = field(default_factory=list)  # channels that will never confirm (kept internal)


def _clean(data: dict[str, Any]) -> tuple[dict[str, str], dict[str, bool]]:
    errors: dict[str, list[str]] = {}
    fields = {
        "first_name": str(data.get("first_name") or "").strip()[:100],
        "last_name": str(data.get("last_name") or "").strip()[:100],
        "postcode": str(data.get("postcode") or "").strip()[:16],
    }
    try:
        fields["email"] = audience.normalise_email(str(data.get("email") or ""))
    except ValidationError as exc:
        errors["email"] = exc.messages
    try:
        fields["mobile"] = audience.normalise_mobile(str(data.get("mobile") or ""))
    except ValidationError as exc:
        errors["mobile"] = exc.messages
    consents = {c.value: bool(data.get(f"consent_{c.value}")) for c in CHANNELS}
    if not errors:
        if not fields["email"] and not fields["mobile"]:
            errors["email"] = [_("Give an email address or a mobile number.")]
        if consents["email"] and not fields["email"]:
            errors.setdefault("email", []).append(_("Give your email address to receive emails."))
        if consents["sms"] and not fields["mobile"]:
            errors.setdefault("mobile", []).append(_("Give your mobile number to receive text messages."))
    if errors:
        raise ValidationError(errors)
    return fields, consents


def submit_lead(
    *, lead_form: LeadForm, kind: str, data: dict[str, Any], ip: str | None, language: str | None = None
) -> LeadResult:
    """Record a submission of the store's public form (the caller checked token, honeypot, fill time
    and rate limits). ``language``: the one the form was shown in (default: :func:`form_language`) —
    the consent wording recorded is the one shown in it, and a new contact reads that language. Raises
    ValidationError (per field) on bad input; nothing is written then."""
    store = lead_form.entity
    config = capture_settings(store.organisation_id)
    language = supported(language) or form_language(store)
    fields, consents = _clean(data)
    email, mobile = fields["email"], fields["mobile"]
    org_id = store.organisation_id
    version = f"{config.form_version} ({kind})"
    result = LeadResult()
    with activate(store_scope(store)), transaction.atomic():
        existing = audience.find_duplicate(org_id, email, mobile)
        if existing is None:
            created = audience.contact_create(
                fields={"kind": Contact.Kind.PROSPECT, "language": language, **fields},
                owner=store,
                source=ConsentSource.FORM,
                ip=ip,
            )
            contact = created.contact
            result.created = True
        else:
            # Someone the organisation already knows: no duplicate, no change of owner, profile or
            # activity — the person is not proven to be the one typing. Even when another store owns
            # them: their consent is theirs to give, brand-wide, so it is recorded (once they confirm)
            # on their existing contact, whose owner stays as it is (a form never moves a contact), and
            # the form's store learns nothing (same answer; its trail does not name them, see _trail).
            contact = existing
        assert contact is not None
        result.contact_id = contact.pk
        common = {"organisation_id": org_id, "contact": contact, "entity": store, "form_version": version}
        # ``sendable`` is False only for what must never be sent: an address that is not the contact's
        # (the email matched a known person whose number is another — or none —, or the reverse). A
        # confirmation there would put a consent for one address on a contact holding another, and
        # message a stranger. The opposition list is NOT a reason: the person alone can lift their
        # objection, by confirming (the per-address and per-client limits still hold).
        if consents["sms"]:
            sendable = contact.mobile == mobile
            if not sendable:
                result.refused.append("sms")
            result.pending_sms = PendingOptIn.unscoped.create(
                **common,
                channel=PendingOptIn.Channel.SMS,
                mobile=mobile,
                wording=config.wording("sms", language),
                ip=ip or None,
                sendable=sendable,
            )
        if consents["email"]:
            sendable = contact.email == email
            if not sendable:
                result.refused.append("email")
            result.pending_email = PendingOptIn.unscoped.create(
                **common,
                channel=PendingOptIn.Channel.EMAIL,
                email=email,
                wording=config.wording("email", language),
                ip=ip or None,
                sendable=sendable,
            )
        audit.record(
            action="leads.submit",
            summary=f"{kind}: contact #{contact.pk}{' (new)' if result.created else ''}",
            entity_id=_trail(contact, store),
            data={"store": store.pk, "kind": kind, "contact": contact.pk, "created": result.created},
        )
    return result


def _trail(contact: Contact, store: Entity) -> int:
    """The node whose audit trail gets a lead event naming ``contact``: the form's store when it covers
    the contact, else the contact's owner. A store's trail (its home page) must not name a contact it
    cannot see: that would tell it the person exists elsewhere, or that they had objected."""
    return store.pk if contact.owner_path.startswith(store.path) else contact.owner_id


def _confirmation(pending: PendingOptIn) -> audience.PersonalConfirmation:
    """The person's own act, for the ledger: the pending row keeps its proof (address, wording, form
    version, time and IP of the submission and of the confirmation, the code's HMAC for SMS)."""
    return audience.PersonalConfirmation(kind="double_opt_in", reference=f"pending opt-in #{pending.pk}")


def confirmation_token(pending: PendingOptIn) -> str:
    return signing.dumps(pending.pk, salt=CONFIRM_SALT)


def send_confirmation(pending: PendingOptIn, confirm_url: str, *, ip: str | None = None) -> bool:
    """Email the double opt-in link; False when nothing was sent: the address may not be written to
    (``sendable``), a sending limit is reached, or the mail could not be handed to the server (the
    pending consent stays, the person can submit again)."""
    if not pending.sendable or not may_send_confirmation(address=pending.email, ip=ip):
        return False
    store = pending.entity
    with for_recipient(pending.contact, store):  # the person's language, not the server's
        subject = _("Please confirm your subscription to %(store)s") % {"store": store.name}
        body = _(
            "Hello,\n\nYou asked to receive emails from %(store)s with this consent:\n\n“%(wording)s”\n\n"
            "To confirm, open this link:\n%(url)s\n\nIf you did not ask for it, ignore this email: "
            "nothing will be sent to you."
        ) % {"store": store.name, "wording": pending.wording, "url": confirm_url}
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [pending.email])
    except Exception:  # an SMTP outage must not lose the lead
        log.exception("double opt-in email for pending #%s failed", pending.pk)
        return False
    return True


def pending_by_token(token: str) -> PendingOptIn | None:
    """The pending email consent a confirmation link designates (public lookup: the signature is the
    credential, hence unscoped), or None when the link is forged or expired."""
    try:
        pk = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    return (
        PendingOptIn.unscoped.select_related("contact", "entity")
        .filter(pk=pk, channel=PendingOptIn.Channel.EMAIL, sendable=True)
        .first()
    )


# ---------------------------------------------------------------------------------------------------
# SMS consent: a code texted to the number, entered on the confirmation page


def sms_token(pending: PendingOptIn, kind: str) -> str:
    """The confirmation page's address for this SMS consent and the form it came from (signed: it names
    the row, never the code)."""
    return signing.dumps([pending.pk, kind], salt=SMS_CONFIRM_SALT)


def sms_pending_by_token(token: str) -> tuple[PendingOptIn, str] | None:
    """The pending SMS consent of a confirmation page and the form kind (public lookup: the signature
    is the credential, hence unscoped), or None when the address is forged or older than a day."""
    try:
        pk, kind = signing.loads(token, salt=SMS_CONFIRM_SALT, max_age=24 * 3600)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if kind not in LeadForm.Kind.values:
        return None
    pending = (
        PendingOptIn.unscoped.select_related("contact", "entity")
        .filter(pk=pk, channel=PendingOptIn.Channel.SMS)
        .first()
    )
    return (pending, kind) if pending is not None else None


def _code_hash(pending_id: int, code: str) -> str:
    key = hashlib.sha256(b"glocal.targeting.sms-code" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, f"{pending_id}:{code}".encode(), hashlib.sha256).hexdigest()


def send_sms_code(pending: PendingOptIn, *, ip: str | None = None) -> bool:
    """Text a 6-digit code to the number through the configured SMS transport (in the person's language,
    else the store's: :func:`glocal.core.language.recipient_language`). Only its HMAC is kept. False
    when nothing was sent (the number may not be texted, a sending limit is reached, or the provider
    refused)."""
    from glocal.delivery.dispatch import sms_transport
    from glocal.delivery.transports.base import TransportError
    from glocal.delivery.transports.sms_http import Sms

    if not pending.sendable or not may_send_confirmation(address=pending.mobile, ip=ip):
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    with for_recipient(pending.contact, pending.entity):
        text = _(
            "%(code)s is your code to confirm text messages from %(store)s. Not you? Ignore this message."
        ) % {"code": code, "store": pending.entity.name}
    PendingOptIn.unscoped.filter(pk=pending.pk).update(
        code_hash=_code_hash(pending.pk, code), code_sent_at=timezone.now(), attempts=0
    )
    sms = Sms(
        stable_id=f"lead-{pending.pk}-{secrets.token_hex(4)}",
        to=pending.mobile,
        text=text,
        sender=settings.GLOCAL_SMS_FROM,
    )
    try:
        sms_transport().send(sms)
    except (TransportError, OSError):
        log.warning("SMS confirmation code for pending #%s could not be sent", pending.pk, exc_info=True)
        return False
    return True


def _record_confirmed(
    pending: PendingOptIn,
    *,
    channel: str,
    same_address: bool,
    note: str,
    action: str,
    ip: str | None,
    **also: Any,
) -> bool:
    """The person's confirmation of ``pending`` (email link or SMS code), in one transaction: the opt-in
    enters the ledger with the wording and version they saw and the proof of their act (which lifts an
    objection of theirs on that channel), the pending row is marked confirmed (plus ``also``), and the
    owner's trail gets ``action``. No consent when the address is no longer the contact's."""
    contact = pending.contact
    store = pending.entity
    with activate(store_scope(store)), transaction.atomic():
        event = None
        if same_address:
            event = audience.consent_record(
                contact=contact,
                channel=channel,
                status=ConsentStatus.OPT_IN,
                source=ConsentSource.FORM,
                wording=pending.wording,
                form_version=f"{pending.form_version}, {note}",
                ip=pending.ip,
                entity_id=store.pk,
                confirmation=_confirmation(pending),
            )
        PendingOptIn.unscoped.filter(pk=pending.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now(), confirmed_ip=ip or None, consent_event=event, **also
        )
        audit.record(action=action, summary=f"contact #{contact.pk}", entity_id=_trail(contact, store))
    pending.refresh_from_db()
    return event is not None


def confirm_sms(*, pending: PendingOptIn, code: str, ip: str | None) -> bool:
    """The person typed the code they received: the SMS opt-in enters the ledger with the wording and
    version they saw (the code's HMAC and time are the proof that they hold the number). Their act lifts
    an objection of theirs on SMS (STOP, opposition list): ``consent_record`` gets the confirmation.
    False for a wrong, expired or exhausted code, or a number no longer the contact's. Idempotent once
    confirmed."""
    if pending.confirmed_at is not None:
        return pending.consent_event_id is not None
    code = "".join(ch for ch in str(code) if ch.isdigit())[:6]
    fresh = pending.code_sent_at is not None and timezone.now() - pending.code_sent_at <= dt.timedelta(
        seconds=SMS_CODE_MAX_AGE
    )
    if not (pending.sendable and pending.code_hash and fresh and len(code) == 6):
        return False
    # one attempt counted before comparing (conditional UPDATE: parallel guesses cannot exceed the cap)
    counted = PendingOptIn.unscoped.filter(pk=pending.pk, attempts__lt=SMS_CODE_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    if not counted or not hmac.compare_digest(pending.code_hash, _code_hash(pending.pk, code)):
        return False
    return _record_confirmed(
        pending,
        channel=Channel.SMS,
        same_address=pending.contact.mobile == pending.mobile,
        note="SMS code confirmed",
        action="leads.confirm_sms",
        ip=ip,
        code_hash="",  # a confirmed code is spent
    )


def confirm_optin(*, pending: PendingOptIn, ip: str | None) -> bool:
    """The person confirmed (POST from the link's page): the email opt-in enters the ledger with the
    wording and version they saw, and lifts an objection of theirs on email (unsubscribe, opposition
    list): ``consent_record`` gets the confirmation. The latest act wins: a click after a later
    unsubscribe is the person's newer choice. Idempotent. False when the address is no longer the
    contact's."""
    if pending.confirmed_at is not None:
        return pending.consent_event_id is not None
    if pending.channel != PendingOptIn.Channel.EMAIL or not pending.sendable:
        return False
    return _record_confirmed(
        pending,
        channel=Channel.EMAIL,
        same_address=pending.contact.email == pending.email,
        note="double opt-in confirmed",
        action="leads.confirm",
        ip=ip,
    )
