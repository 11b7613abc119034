"""Local lead capture: the kiosk and the embeddable web form of a store, double opt-in by email.

A public form is addressed by an unguessable per-store token (no login). Each submission runs in the
store's scope (a scope built from the token's store, never from the payload), so the new contact is a
PROSPECT owned by that store. Deduplication follows the core (``audience.services.find_duplicate``,
organisation-wide): an existing person is never duplicated, never moved to another owner and never
has their profile overwritten by an anonymous form; only the consents they give are recorded.

Consent: one unticked box per channel (email, SMS) showing the wording HQ set; the ledger records that
exact wording with the form version, IP, timestamp and ``source=form``. Email consent becomes an
opt-in only once the person confirms through the signed link sent to them (``PendingOptIn``). People
on the opposition list are never re-enabled for marketing by a form.

Anti-abuse without third parties: per-IP and per-token rate limits (Django's cache), a honeypot
field and a minimum fill time (a signed render timestamp).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.audience import services as audience
from glocal.audience.models import Channel, ConsentSource, ConsentStatus, Contact
from glocal.core import audit
from glocal.core.scope import Scope, activate, get_scope
from glocal.network.models import Entity
from glocal.network.roles import Role

from .models import LeadCaptureSettings, LeadForm, PendingOptIn, new_token

log = logging.getLogger(__name__)

CHANNELS = (Channel.EMAIL, Channel.SMS)
CONFIRM_SALT = "glocal.targeting.optin"
RENDER_SALT = "glocal.targeting.rendered"
CONFIRM_MAX_AGE = 14 * 24 * 3600  # the confirmation link lasts two weeks
RATE_WINDOW = 3600


def capture_settings(organisation_id: int) -> LeadCaptureSettings:
    obj, _created = LeadCaptureSettings.unscoped.get_or_create(organisation_id=organisation_id)
    return obj


def capture_settings_update(*, changes: dict[str, Any]) -> LeadCaptureSettings:
    """HQ changes the wording, form version, embedding policy or anti-abuse thresholds."""
    scope = get_scope()
    obj = capture_settings(scope.organisation_id)
    with transaction.atomic():
        for name, value in changes.items():
            setattr(obj, name, value)
        obj.full_clean()
        obj.save()
        audit.record(action="leads.settings", summary=", ".join(sorted(changes)))
    return obj


def lead_form_for(entity: Entity) -> LeadForm:
    """The store's lead form (created on first use). ``entity`` was fetched through the caller's scope."""
    form, _created = LeadForm.unscoped.get_or_create(
        entity=entity, defaults={"organisation_id": entity.organisation_id}
    )
    return form


def regenerate_token(*, lead_form: LeadForm, kind: str) -> LeadForm:
    """A new token for the kiosk or the web form: the old link stops working at once."""
    if kind not in LeadForm.Kind.values:
        raise ValidationError(_("Unknown form."))
    name = "kiosk_token" if kind == LeadForm.Kind.KIOSK else "embed_token"
    with transaction.atomic():
        setattr(lead_form, name, new_token())
        lead_form.regenerated_at = timezone.now()
        lead_form.save(update_fields=[name, "regenerated_at"])
        audit.record(action="leads.regenerate", summary=kind, entity_id=lead_form.entity_id)
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


def render_stamp(now: float | None = None) -> str:
    """A signed timestamp put in the form when it is rendered (minimum fill time)."""
    return signing.dumps(now if now is not None else time.time(), salt=RENDER_SALT)


def filled_too_fast(stamp: str, minimum: int, now: float | None = None) -> bool:
    """True when the form came back sooner than ``minimum`` seconds after rendering (or the stamp
    is missing or forged)."""
    try:
        rendered = float(signing.loads(stamp or "", salt=RENDER_SALT, max_age=24 * 3600))
    except (signing.BadSignature, TypeError, ValueError):
        return True
    return (now if now is not None else time.time()) - rendered < minimum


def _hit(key: str) -> int:
    """Count one hit in the current hour window for ``key``."""
    bucket = f"leads:{key}:{int(time.time() // RATE_WINDOW)}"
    if cache.add(bucket, 1, RATE_WINDOW + 60):
        return 1
    try:
        return int(cache.incr(bucket))
    except ValueError:  # expired between add and incr
        cache.set(bucket, 1, RATE_WINDOW + 60)
        return 1


def rate_limited(*, ip: str | None, token: str, config: LeadCaptureSettings) -> bool:
    """Count this submission against the per-IP and per-token limits; True when over either."""
    over_ip = _hit(f"ip:{config.organisation_id}:{ip or '-'}") > config.ip_limit_per_hour
    over_token = _hit(f"token:{token}") > config.token_limit_per_hour
    return over_ip or over_token


# ---------------------------------------------------------------------------------------------------
# Submissions


@dataclass
class LeadResult:
    contact_id: int | None = None
    created: bool = False
    recorded: list[str] = field(default_factory=list)  # channels opted in now
    pending_email: PendingOptIn | None = None  # waiting for confirmation
    refused: list[str] = field(default_factory=list)  # channels refused (opposition list)


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


def submit_lead(*, lead_form: LeadForm, kind: str, data: dict[str, Any], ip: str | None) -> LeadResult:
    """Record a submission of the store's public form (the caller checked token, honeypot, fill time
    and rate limits). Raises ValidationError (per field) on bad input; nothing is written then."""
    store = lead_form.entity
    config = capture_settings(store.organisation_id)
    fields, consents = _clean(data)
    email, mobile = fields["email"], fields["mobile"]
    org_id = store.organisation_id
    version = f"{config.form_version} ({kind})"
    result = LeadResult()
    with activate(store_scope(store)), transaction.atomic():
        suppressed: dict[str, bool] = {
            ch.value: audience.is_suppressed(organisation_id=org_id, channel=ch, email=email, mobile=mobile)
            for ch in CHANNELS
        }
        existing = audience.find_duplicate(org_id, email, mobile)
        if existing is None:
            created = audience.contact_create(
                fields={"kind": Contact.Kind.PROSPECT, **fields},
                owner=store,
                source=ConsentSource.FORM,
                ip=ip,
            )
            contact = created.contact
            result.created = True
        else:
            # Someone the organisation already knows: no duplicate, no change of owner or profile.
            contact = existing
            Contact.unscoped.filter(pk=contact.pk).update(last_activity_at=timezone.now())
        assert contact is not None
        result.contact_id = contact.pk
        if consents["sms"]:
            same_number = contact.mobile == mobile
            if suppressed["sms"] or not same_number:
                result.refused.append("sms")
            else:
                audience.consent_record(
                    contact=contact,
                    channel=Channel.SMS,
                    status=ConsentStatus.OPT_IN,
                    source=ConsentSource.FORM,
                    wording=config.sms_wording,
                    form_version=version,
                    ip=ip,
                    entity_id=store.pk,
                )
                result.recorded.append("sms")
        if consents["email"]:
            if suppressed["email"] or contact.email != email:
                result.refused.append("email")
            elif contact.consent(Channel.EMAIL) != ConsentStatus.OPT_IN:
                result.pending_email = PendingOptIn.unscoped.create(
                    organisation_id=org_id,
                    contact=contact,
                    entity=store,
                    email=email,
                    wording=config.email_wording,
                    form_version=version,
                    ip=ip or None,
                )
        audit.record(
            action="leads.submit",
            summary=f"{kind}: contact #{contact.pk}{' (new)' if result.created else ''}",
            entity_id=store.pk,
        )
    return result


def confirmation_token(pending: PendingOptIn) -> str:
    return signing.dumps(pending.pk, salt=CONFIRM_SALT)


def send_confirmation(pending: PendingOptIn, confirm_url: str) -> bool:
    """Email the double opt-in link; False when the mail could not be handed to the server (the pending
    consent stays, the person can submit again)."""
    store = pending.entity
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
    """The pending consent a confirmation link designates (public lookup: the signature is the
    credential, hence unscoped), or None when the link is forged or expired."""
    try:
        pk = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    return PendingOptIn.unscoped.select_related("contact", "entity").filter(pk=pk).first()


def confirm_optin(*, pending: PendingOptIn, ip: str | None) -> bool:
    """The person confirmed: the email opt-in enters the ledger with the wording and version they saw.
    Idempotent. False when the address is (now) on the opposition list or no longer the contact's."""
    if pending.confirmed_at is not None:
        return pending.consent_event_id is not None
    contact = pending.contact
    store = pending.entity
    with activate(store_scope(store)), transaction.atomic():
        ok = contact.email == pending.email and not audience.is_suppressed(
            organisation_id=contact.organisation_id, channel=Channel.EMAIL, email=pending.email
        )
        event = None
        if ok:
            event = audience.consent_record(
                contact=contact,
                channel=Channel.EMAIL,
                status=ConsentStatus.OPT_IN,
                source=ConsentSource.FORM,
                wording=pending.wording,
                form_version=f"{pending.form_version}, double opt-in confirmed",
                ip=pending.ip,
                entity_id=store.pk,
            )
        PendingOptIn.unscoped.filter(pk=pending.pk).update(
            confirmed_at=timezone.now(), confirmed_ip=ip or None, consent_event=event
        )
        audit.record(action="leads.confirm", summary=f"contact #{contact.pk}", entity_id=store.pk)
    pending.refresh_from_db()
    return event is not None
