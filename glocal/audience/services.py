"""Writes on the audience: contacts, consent, opposition list, purchases, ownership, personal-data rights.

Every function runs inside an active scope. Objects come from scoped managers, so a contact outside
the scope is ``DoesNotExist`` (404) exactly like a missing one. ``Contact.unscoped`` is used only where
the rule is organisation-wide by nature (deduplication, ownership, the opposition list), each use
commented.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import phonenumbers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from email_validator import EmailNotValidError, validate_email

from glocal.core import audit
from glocal.core.scope import get_scope
from glocal.network.models import Entity

from .models import (
    POSITIVE,
    AttributeDefinition,
    AudienceSettings,
    Channel,
    ConsentEvent,
    ConsentSource,
    ConsentStatus,
    Contact,
    OwnershipTransfer,
    Purchase,
    Suppression,
    consent_field,
    hash_value,
)

# The person's own form (public lead form, kiosk, preference page): the only source that may act on a
# contact outside the acting store's scope (the person is the organisation's, not the store's). Staff
# entry (store, user), imports and API syncs act only on contacts the scope owns.
PERSON_SOURCES = (ConsentSource.FORM,)

REFUSED_OBJECTION = gettext_lazy(
    "Not recorded: this person objected on this channel (unsubscribe link, STOP, complaint, erasure or "
    "an opt-out on record). Only the person can lift it, by confirming a new subscription themselves "
    "(the double opt-in link of the store's sign-up form)."
)


@dataclass(frozen=True)
class PersonalConfirmation:
    """The person's own verifiable act: the only thing that lifts their objection.

    ``kind``: ``double_opt_in`` (they opened the confirmation link sent to the address) or
    ``signed_form`` (a form they signed, kept as proof); ``reference``: where the proof is (the pending
    opt-in's id, the scanned form's reference). Built only by the flows where the person acts
    (``targeting.leads`` confirmation); never from a staff form, an import or an API payload."""

    kind: str
    reference: str

    KINDS = ("double_opt_in", "signed_form")

    def label(self) -> str:
        return f"{self.kind}: {self.reference}"[:120]


# Set by the services themselves (normalised, derived) or pure query paths: not re-validated.
NOT_VALIDATED = [
    "owner_path",
    "email_hash",
    "mobile_hash",
    "email",
    "email_suppressions",
    "mobile_suppressions",
]

CONTACT_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "language",
    "birth_date",
    "attributes",
    "tags",
)


# ---------------------------------------------------------------------------------------------------
# Normalisation (pure)


def normalise_email(raw: str) -> str:
    """Lower-cased, syntax-checked email (no DNS lookup); "" for an empty value."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        info = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise ValidationError(_("“%(value)s” is not a valid email address.") % {"value": raw}) from None
    return info.normalized.lower()


# France's numbering plans: the mainland and the overseas departments, whose numbers are all written
# "0…" nationally (0692/0693 Réunion, 0639 Mayotte, 0690/0691 Guadeloupe and its neighbours, 0694 Guyane,
# 0696/0697 Martinique). No national mobile number is valid under two different calling codes.
FRENCH_PLANS = ("FR", "RE", "YT", "GP", "GF", "MQ")
FRENCH_COUNTRIES = frozenset({*FRENCH_PLANS, "BL", "MF", "PM"})


def _parse_mobile(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalise_mobile(raw: str, country: str = "FR") -> str:
    """E.164 form of a phone number (national numbers read in ``country``); "" for an empty value.

    A French contact's number written nationally is read in ``country``'s plan first, then in the other
    French plans: "0694 20 12 34" typed by a mainland store is Guyane's +594694201234 (not an invalid
    mainland number), "06 12 34 56 78" for a contact in Réunion is the mainland's +33612345678."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    region = (country or "FR").upper()
    number = _parse_mobile(raw, region)
    if number is None and region in FRENCH_COUNTRIES and raw.startswith("0") and not raw.startswith("00"):
        others = (_parse_mobile(raw, plan) for plan in FRENCH_PLANS if plan != region)
        number = next((found for found in others if found is not None), None)
    if number is None:
        raise ValidationError(_("“%(value)s” is not a valid mobile number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_tags(value: str | Iterable[str]) -> str:
    """``"vip, wine"`` or ``["vip", "wine"]`` → ``"|vip|wine|"`` (lower-case, sorted, unique)."""
    parts = value.replace(";", ",").replace("|", ",").split(",") if isinstance(value, str) else list(value)
    tags = sorted({p.strip().lower()[:40] for p in parts if p and p.strip()})
    joined = "|".join(tags)
    return f"|{joined}|" if joined else ""


def _coerce_number(value: Any) -> float:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", ".").strip())
    except ValueError:
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from None


def _coerce_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"1", "yes", "oui", "true", "vrai", "y", "o"}:
        return True
    if lowered in {"0", "no", "non", "false", "faux", "n"}:
        return False
    raise ValueError(_("“%(value)s” is not yes or no.") % {"value": value})


def _coerce_date(value: Any) -> str:
    """A date, a datetime (its day) or a text date → ``YYYY-MM-DD``."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return parse_date(str(value)).isoformat()
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}) from None


def _coerce_text(definition: AttributeDefinition, value: Any) -> str:
    """Text (at most 500 characters); a choice must be one of the definition's."""
    text = str(value).strip()
    if definition.field_type == AttributeDefinition.FieldType.CHOICE and text not in definition.choices:
        raise ValueError(
            _("“%(value)s” is not one of: %(choices)s")
            % {"value": text, "choices": ", ".join(definition.choices)}
        )
    return text[:500]


def coerce_attribute(definition: AttributeDefinition, value: Any) -> Any:
    """A custom attribute value in its stored (JSON) form; raises ValueError with a clear message."""
    if value is None or value == "":
        return None
    kind = definition.field_type
    types = AttributeDefinition.FieldType
    if kind == types.NUMBER:
        return _coerce_number(value)
    if kind == types.BOOLEAN:
        return _coerce_boolean(value)
    if kind == types.DATE:
        return _coerce_date(value)
    return _coerce_text(definition, value)


def parse_date(text: str) -> datetime.date:
    """ISO (2024-03-01) or French (01/03/2024) date; raises ValueError."""
    text = text.strip()
    if "/" in text:
        day, month, year = text.split("/")
        return datetime.date(int(year), int(month), int(day))
    return datetime.date.fromisoformat(text[:10])


# ---------------------------------------------------------------------------------------------------
# Settings


def settings_for(organisation_id: int) -> AudienceSettings:
    """The organisation's audience settings; the defaults (unsaved) until HQ first saves them: reading
    never writes (``settings_update`` creates the row)."""
    found = AudienceSettings.unscoped.filter(organisation_id=organisation_id).first()
    return found or AudienceSettings(organisation_id=organisation_id)


OWNERSHIP_JOB = "audience.ownership"


def attribute_add(*, definition: AttributeDefinition) -> AttributeDefinition:
    """Add a custom contact attribute (validated by the caller's form)."""
    with transaction.atomic():
        definition.save()
        audit.record(action="audience.attribute", summary=definition.key)
    return definition


def settings_update(*, changes: dict[str, Any]) -> AudienceSettings:
    """Save HQ's audience settings; a new ownership rule (or period) is applied to every contact
    by a background job (``OWNERSHIP_JOB``)."""
    from glocal.core import jobs

    scope = get_scope()
    obj = settings_for(scope.organisation_id)
    before = (obj.ownership_rule, obj.ownership_months)
    with transaction.atomic():
        for name, value in changes.items():
            setattr(obj, name, value)
        obj.full_clean()
        obj.save()
        audit.record(
            action="audience.settings", summary=", ".join(sorted(changes)), data={"fields": sorted(changes)}
        )
        if (obj.ownership_rule, obj.ownership_months) != before and (
            obj.ownership_rule != AudienceSettings.OwnershipRule.EXPLICIT
        ):
            jobs.enqueue(
                OWNERSHIP_JOB, scope=scope, params={"filename": "ownership"}, by_user_id=scope.user_id
            )
    return obj


# ---------------------------------------------------------------------------------------------------
# The opposition list


def channel_hashes(channel: str, email_hash: str, mobile_hash: str) -> list[str]:
    """The hashes that address a person on ``channel`` (postal: either identifier)."""
    if channel == Channel.EMAIL:
        hashes = [email_hash]
    elif channel in (Channel.SMS, Channel.PHONE):
        hashes = [mobile_hash]
    else:
        hashes = [email_hash, mobile_hash]
    return [h for h in hashes if h]


def is_suppressed(*, organisation_id: int, channel: str, email: str = "", mobile: str = "") -> bool:
    """THE check before addressing anyone: is this email / E.164 number on the opposition list for
    ``channel``? Values must be normalised (``normalise_email`` / ``normalise_mobile``)."""
    hashes = channel_hashes(channel, hash_value(email), hash_value(mobile))
    if not hashes:
        return False
    # Organisation-wide by nature: an objection is brand-wide whoever owns the contact.
    return Suppression.unscoped.filter(
        organisation_id=organisation_id, channel=channel, value_hash__in=hashes
    ).exists()


def suppress(*, organisation_id: int, channel: str, hashes: Iterable[str], reason: str) -> None:
    rows = [
        Suppression(organisation_id=organisation_id, channel=channel, value_hash=h, reason=reason)
        for h in hashes
        if h
    ]
    Suppression.unscoped.bulk_create(rows, ignore_conflicts=True)


def lift_suppression(*, organisation_id: int, channel: str, hashes: Iterable[str]) -> int:
    deleted, _ = Suppression.unscoped.filter(
        organisation_id=organisation_id, channel=channel, value_hash__in=[h for h in hashes if h]
    ).delete()
    return deleted


# ---------------------------------------------------------------------------------------------------
# Contacts


@dataclass
class SaveResult:
    contact: Contact | None  # None: the person is another store's contact, left untouched
    created: bool
    refused: list[str] = field(default_factory=list)  # channels whose opt-in an objection refused


def _check_owned(contact: Contact) -> None:
    """A store (any scope) writes only on the contacts it owns: a foreign one is refused whatever the
    caller (a view already answers 404 through its scoped lookup; this guards imports, jobs, the API)."""
    scope = get_scope()
    if contact.organisation_id != scope.organisation_id or not scope.covers_path(contact.owner_path):
        raise PermissionDenied


def _clean_attributes(values: dict[str, Any], organisation_id: int) -> tuple[dict[str, Any], list[str]]:
    """Custom attributes in their stored form (empty ones dropped) and the problems found, one per
    unknown key or refused value."""
    definitions = {d.key: d for d in AttributeDefinition.unscoped.filter(organisation_id=organisation_id)}
    attributes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in values.items():
        if key not in definitions:
            problems.append(_("Unknown attribute “%(key)s”.") % {"key": key})
            continue
        try:
            coerced = coerce_attribute(definitions[key], value)
        except ValueError as exc:
            problems.append(f"{definitions[key].label}: {exc}")
            continue
        if coerced is not None:
            attributes[key] = coerced
    return attributes, problems


def _clean_fields(fields: dict[str, Any], organisation_id: int) -> dict[str, Any]:
    """Normalise and validate contact fields; raise one ValidationError listing every problem."""
    clean = dict(fields)
    errors: dict[str, list[str]] = {}
    if "email" in clean:
        try:
            clean["email"] = normalise_email(clean["email"] or "")
        except ValidationError as exc:
            errors["email"] = exc.messages
    if "mobile" in clean:
        try:
            clean["mobile"] = normalise_mobile(clean["mobile"] or "", clean.get("country") or "FR")
        except ValidationError as exc:
            errors["mobile"] = exc.messages
    if "tags" in clean:
        clean["tags"] = normalise_tags(clean["tags"] or "")
    if "attributes" in clean:
        clean["attributes"], problems = _clean_attributes(clean["attributes"] or {}, organisation_id)
        if problems:
            errors["attributes"] = problems
    if errors:
        raise ValidationError(errors)
    if "email" in clean:
        clean["email_hash"] = hash_value(clean["email"])
    if "mobile" in clean:
        clean["mobile_hash"] = hash_value(clean["mobile"])
    return clean


def find_duplicate(
    organisation_id: int, email: str, mobile: str, exclude_pk: int | None = None
) -> Contact | None:
    """The contact of the organisation holding this email or mobile (dedupe is organisation-wide,
    hence unscoped; callers never show an out-of-scope match)."""
    q = Q()
    if email:
        q |= Q(email=email)
    if mobile:
        q |= Q(mobile=mobile)
    if not q:
        return None
    qs = Contact.unscoped.filter(q, organisation_id=organisation_id)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


def contact_create(
    *,
    fields: dict[str, Any],
    owner: Entity | None = None,
    consents: Iterable[dict[str, Any]] = (),
    source: str = ConsentSource.USER,
    ip: str | None = None,
) -> SaveResult:
    """Create a contact owned by ``owner`` (default: the acting entity), with its first consents.

    Deduplication on email and mobile: a match in scope is an error pointing at it; a match outside
    the scope is an error naming no one when HQ lets stores see that customers exist, otherwise
    nothing at all changes (no consent, no profile field: the store neither learns nor touches anything)
    and the answer is the one a new person gets, minus the contact (``SaveResult(None, False)``).
    """
    scope = get_scope()
    owner = owner or Entity.objects.get(pk=scope.entity_id)
    clean = _clean_fields({k: v for k, v in fields.items() if k in CONTACT_FIELDS}, scope.organisation_id)
    email, mobile = clean.get("email", ""), clean.get("mobile", "")
    if not email and not mobile and not (clean.get("first_name") or clean.get("last_name")):
        raise ValidationError(_("Give at least a name, an email address or a mobile number."))
    consents = list(consents)
    with transaction.atomic():
        existing = find_duplicate(scope.organisation_id, email, mobile)
        if existing is not None:
            if scope.covers_path(existing.owner_path):
                raise ValidationError(
                    _("A contact with this email address or mobile number already exists: %(name)s.")
                    % {"name": existing.display_name}
                )
            if settings_for(scope.organisation_id).existence_visible:
                raise ValidationError(_("This person is already a customer of another store."))
            # Another store's customer: left alone (their consents are theirs to give, to that brand,
            # through their own act), and nothing about them is disclosed.
            return SaveResult(contact=None, created=False)
        contact = Contact(organisation_id=scope.organisation_id, owner=owner, owner_path=owner.path, **clean)
        contact.last_activity_at = timezone.now()
        contact.full_clean(exclude=NOT_VALIDATED)
        contact.save()
        OwnershipTransfer.unscoped.create(
            organisation_id=scope.organisation_id,
            contact=contact,
            to_entity=owner,
            reason=OwnershipTransfer.Reason.CREATED,
            actor_id=scope.user_id,
        )
        refused = [
            consent["channel"]
            for consent in consents
            if consent_record(contact=contact, source=source, ip=ip, **consent) is None
        ]
        audit.record(action="contact.create", summary=f"contact #{contact.pk}", entity_id=owner.pk)
    return SaveResult(contact=contact, created=True, refused=refused)


def contact_update(*, contact: Contact, changes: dict[str, Any]) -> Contact:
    """Change profile fields (not owner, not consent: they have their own services)."""
    scope = get_scope()
    _check_owned(contact)
    unknown = set(changes) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if "mobile" in changes and "country" not in changes:
        changes = {**changes, "country": contact.country}
    clean = _clean_fields(changes, scope.organisation_id)
    with transaction.atomic():
        duplicate = find_duplicate(
            scope.organisation_id, clean.get("email", ""), clean.get("mobile", ""), exclude_pk=contact.pk
        )
        if duplicate is not None:
            raise ValidationError(_("Another contact already has this email address or mobile number."))
        changed = sorted(k for k, v in clean.items() if getattr(contact, k) != v)
        for name in changed:
            setattr(contact, name, clean[name])
        contact.full_clean(exclude=NOT_VALIDATED)
        contact.save()
        if changed:
            audit.record(
                action="contact.update",
                summary=f"contact #{contact.pk}: {', '.join(changed)}",
                entity_id=contact.owner_id,
                data={"contact": contact.pk, "fields": changed},
            )
    return contact


# ---------------------------------------------------------------------------------------------------
# Consent


def has_objection(contact: Contact, channel: str) -> bool:
    """Has the person objected on ``channel``? Their current consent is an opt-out (whatever recorded
    it: unsubscribe link, STOP, complaint, staff, import), or one of their hashes for the channel is on
    the opposition list (objection, complaint, hard bounce, erasure, head office)."""
    if contact.consent(channel) == ConsentStatus.OPT_OUT:
        return True
    hashes = channel_hashes(channel, contact.email_hash, contact.mobile_hash)
    return bool(hashes) and (
        # Organisation-wide by nature: an objection is brand-wide whoever owns the contact.
        Suppression.unscoped.filter(
            organisation_id=contact.organisation_id, channel=channel, value_hash__in=hashes
        ).exists()
    )


def consent_record(
    *,
    contact: Contact,
    channel: str,
    status: str,
    source: str,
    wording: str = "",
    form_version: str = "",
    ip: str | None = None,
    entity_id: int | None = None,
    confirmation: PersonalConfirmation | None = None,
) -> ConsentEvent | None:
    """Append to the ledger and derive the contact's current state, in one transaction.

    An opt-out puts the person's hashes on the opposition list for that channel (brand-wide: the
    contact is the organisation's). A positive status for a person who objected (``has_objection``) is
    refused (None) — whoever asks: staff, a store, an import, the API — unless it comes with the
    person's own verifiable act (``confirmation``, an opt-in from their own form with its wording),
    which lifts their objection on that channel. Staff sources act only on contacts the scope owns
    (PermissionDenied otherwise); the person's own form may reach any contact of the organisation.
    """
    scope = get_scope()
    if channel not in Channel.values or status not in ConsentStatus.values:
        raise ValidationError(_("Unknown channel or consent status."))
    if source not in ConsentSource.values:
        raise ValidationError(_("Unknown consent source."))
    if contact.organisation_id != scope.organisation_id:
        raise PermissionDenied
    if source not in PERSON_SOURCES:
        _check_owned(contact)
    hashes = channel_hashes(channel, contact.email_hash, contact.mobile_hash)
    with transaction.atomic():
        if status in POSITIVE:
            # Re-read under the transaction: the columns on the object may be stale.
            current = Contact.unscoped.filter(pk=contact.pk).values_list(consent_field(channel), flat=True)
            setattr(contact, consent_field(channel), current.first() or "")
            if has_objection(contact, channel):
                lifted = (
                    confirmation is not None
                    and confirmation.kind in PersonalConfirmation.KINDS
                    and confirmation.reference
                    and source in PERSON_SOURCES
                    and status == ConsentStatus.OPT_IN
                    and wording.strip()
                )
                if not lifted:
                    return None
                lift_suppression(organisation_id=contact.organisation_id, channel=channel, hashes=hashes)
                assert confirmation is not None
                # The proof's reference is never cut: the version gives way when the column is short.
                proof = f" ({confirmation.label()})"
                form_version = f"{form_version.strip()[: max(0, 120 - len(proof))]}{proof}".strip()[:120]
                audit.record(
                    action="consent.lift",
                    summary=f"contact #{contact.pk}: {channel}",
                    # On the trail of the node that owns the contact (and its ancestors'), not of the
                    # store whose form was used: that store may not see the contact, nor learn that
                    # the person had objected.
                    entity_id=contact.owner_id or entity_id or scope.entity_id,
                    data={
                        "channel": channel,
                        "confirmation": confirmation.label(),
                        "at": entity_id or scope.entity_id,
                    },
                )
        event = ConsentEvent.unscoped.create(
            organisation_id=contact.organisation_id,
            contact=contact,
            entity_id=entity_id or scope.entity_id,
            channel=channel,
            status=status,
            source=source,
            wording=wording,
            form_version=form_version,
            ip=ip or None,
            actor_id=scope.user_id,
        )
        setattr(contact, consent_field(channel), status)
        Contact.unscoped.filter(pk=contact.pk).update(**{consent_field(channel): status})
        if status == ConsentStatus.OPT_OUT:
            suppress(
                organisation_id=contact.organisation_id,
                channel=channel,
                hashes=hashes,
                reason=Suppression.Reason.OPT_OUT,
            )
    return event


def contact_opt_out(
    *,
    contact: Contact,
    channel: str,
    source: str = ConsentSource.USER,
    wording: str = "",
    ip: str | None = None,
) -> ConsentEvent | None:
    """Objection on ``channel``: brand-wide, effective at once, and kept on the opposition list."""
    return consent_record(
        contact=contact, channel=channel, status=ConsentStatus.OPT_OUT, source=source, wording=wording, ip=ip
    )


# ---------------------------------------------------------------------------------------------------
# Ownership


def _log_transfer(contact: Contact, to_entity_id: int, reason: str, detail: str = "") -> OwnershipTransfer:
    scope = get_scope()
    return OwnershipTransfer(
        organisation_id=contact.organisation_id,
        contact=contact,
        from_entity_id=contact.owner_id,
        to_entity_id=to_entity_id,
        reason=reason,
        detail=detail[:200],
        actor_id=scope.user_id,
    )


def contact_assign(*, contact: Contact, entity: Entity, lock: bool = True) -> Contact:
    """HQ's manual override: the owner is ``entity`` and (``lock``) the rule no longer moves it."""
    with transaction.atomic():
        if entity.pk != contact.owner_id:
            _log_transfer(contact, entity.pk, OwnershipTransfer.Reason.MANUAL).save()
            audit.record(
                action="contact.assign",
                summary=f"contact #{contact.pk} → {entity.code}",
                entity_id=entity.pk,
            )
        contact.owner = entity
        contact.owner_path = entity.path
        contact.ownership_locked = lock
        Contact.unscoped.filter(pk=contact.pk).update(
            owner=entity, owner_path=entity.path, ownership_locked=lock
        )
    return contact


@dataclass(frozen=True)
class PurchaseFact:
    entity_id: int
    date: datetime.date
    id: int


def choose_owner(
    *,
    rule: str,
    current: int,
    purchases: list[PurchaseFact],
    postcode: str = "",
    catchments: dict[str, list[int]] | None = None,
    months: int = 12,
    today: datetime.date | None = None,
) -> int:
    """Who owns the contact under ``rule`` (pure). Exactly one answer; ties broken by the most recent
    purchase, then the lowest entity id; no evidence keeps the current owner."""
    rules = AudienceSettings.OwnershipRule
    if rule == rules.LAST_PURCHASE and purchases:
        return max(purchases, key=lambda p: (p.date, p.id)).entity_id
    if rule == rules.MOST_PURCHASES and purchases:
        today = today or timezone.localdate()
        since = today - datetime.timedelta(days=int(months * 30.44))
        recent = [p for p in purchases if p.date >= since]
        if not recent:
            return current
        counts: dict[int, int] = defaultdict(int)
        latest: dict[int, tuple[datetime.date, int]] = {}
        for p in recent:
            counts[p.entity_id] += 1
            latest[p.entity_id] = max(latest.get(p.entity_id, (p.date, p.id)), (p.date, p.id))
        return max(counts, key=lambda e: (counts[e], latest[e], -e))
    if rule == rules.CATCHMENT and postcode and catchments:
        stores = catchments.get(postcode.strip().upper(), [])
        if current in stores or not stores:
            return current
        return min(stores)
    return current


def _catchments(organisation_id: int) -> dict[str, list[int]]:
    catchments: dict[str, list[int]] = defaultdict(list)
    for pk, postcodes in Entity.unscoped.filter(organisation_id=organisation_id, is_active=True).values_list(
        "pk", "catchment_postcodes"
    ):
        for code in postcodes or []:
            catchments[str(code).strip().upper()].append(pk)
    return catchments


def ownership_moves(
    *, ids: list[int], rule: str, months: int, batch_size: int = 1000
) -> Iterator[list[tuple[Contact, int]]]:
    """The owner changes ``rule`` makes among ``ids``, one list of ``(contact, new owner)`` per batch;
    reads only. The single source of truth of both the preview (``ownership_impact``) and the
    recomputation (``recompute_ownership``), so that what HQ is shown is what is applied.

    Reads every purchase of the contacts whatever store made it: ownership is an organisation-wide
    decision (unscoped reads below, limited to the acting organisation).
    """
    scope = get_scope()
    if rule == AudienceSettings.OwnershipRule.EXPLICIT:
        return
    paths = set(Entity.unscoped.filter(organisation_id=scope.organisation_id).values_list("pk", flat=True))
    catchments = (
        _catchments(scope.organisation_id) if rule == AudienceSettings.OwnershipRule.CATCHMENT else {}
    )
    for start in range(0, len(ids), batch_size):
        batch = list(
            Contact.unscoped.filter(
                organisation_id=scope.organisation_id,
                pk__in=ids[start : start + batch_size],
                ownership_locked=False,
            )
            .order_by("pk")
            .only("pk", "organisation_id", "owner_id", "owner_path", "postcode")
        )
        facts: dict[int, list[PurchaseFact]] = defaultdict(list)
        if rule != AudienceSettings.OwnershipRule.CATCHMENT:
            for contact_id, entity_id, date, pk in Purchase.unscoped.filter(
                organisation_id=scope.organisation_id, contact_id__in=[c.pk for c in batch]
            ).values_list("contact_id", "entity_id", "date", "pk"):
                facts[contact_id].append(PurchaseFact(entity_id, date, pk))
        moves = []
        for contact in batch:
            owner = choose_owner(
                rule=rule,
                current=contact.owner_id,
                purchases=facts.get(contact.pk, []),
                postcode=contact.postcode,
                catchments=catchments,
                months=months,
            )
            if owner != contact.owner_id and owner in paths:
                moves.append((contact, owner))
        yield moves


def ownership_candidates() -> list[int]:
    """The contacts a rule change recomputes: every contact of the organisation HQ has not locked
    (HQ scope: the acting scope is the organisation's root)."""
    return list(Contact.objects.filter(ownership_locked=False).order_by("pk").values_list("pk", flat=True))


@dataclass
class OwnershipImpact:
    """What a rule would do now: how many contacts move, the biggest store → store flows, and a digest
    of the exact moves (the confirmation carries it: different data → a new preview)."""

    rule: str
    months: int
    total: int
    flows: list[tuple[Entity | None, Entity | None, int]]
    digest: str


TOP_FLOWS = 20


def ownership_impact(*, rule: str, months: int) -> OwnershipImpact:
    """The dry run of a rule change: the same computation as the job, nothing written."""
    import hashlib

    digest = hashlib.sha256(f"{rule}:{months}".encode())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    total = 0
    for moves in ownership_moves(ids=ownership_candidates(), rule=rule, months=months):
        for contact, owner in moves:
            counts[(contact.owner_id, owner)] += 1
            digest.update(f"|{contact.pk}:{contact.owner_id}>{owner}".encode())
            total += 1
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_FLOWS]
    names = Entity.unscoped.in_bulk({pk for pair, _n in top for pk in pair})
    flows = [(names.get(a), names.get(b), n) for (a, b), n in top]
    return OwnershipImpact(rule=rule, months=months, total=total, flows=flows, digest=digest.hexdigest())


def recompute_ownership(
    *, contacts: Iterable[int] | Any, batch_size: int = 1000, job_id: int | None = None
) -> int:
    """Apply the organisation's ownership rule to ``contacts`` (ids or a queryset); returns how many
    changed owner. HQ's manual overrides (``ownership_locked``) are left alone; each change is logged
    (bulk) in the transfer log, with the job that made it."""
    scope = get_scope()
    config = settings_for(scope.organisation_id)
    ids = list(contacts.values_list("pk", flat=True)) if hasattr(contacts, "values_list") else list(contacts)
    paths = dict(Entity.unscoped.filter(organisation_id=scope.organisation_id).values_list("pk", "path"))
    changed = 0
    for moves in ownership_moves(
        ids=ids, rule=config.ownership_rule, months=config.ownership_months, batch_size=batch_size
    ):
        transfers = []
        for contact, owner in moves:
            transfer = _log_transfer(contact, owner, OwnershipTransfer.Reason.RULE, config.ownership_rule)
            transfer.job_id = job_id
            transfers.append(transfer)
            contact.owner_id = owner
            contact.owner_path = paths[owner]
        with transaction.atomic():
            Contact.unscoped.bulk_update([c for c, _o in moves], ["owner", "owner_path"])
            OwnershipTransfer.unscoped.bulk_create(transfers)
        changed += len(moves)
    return changed


def on_entity_move(organisation_id: int, old_prefix: str, new_prefix: str) -> None:
    """network.services.entity_move hook: contacts of the moved subtree follow their owner."""
    Contact.unscoped.filter(organisation_id=organisation_id, owner_path__startswith=old_prefix).update(
        owner_path=Concat(Value(new_prefix), Substr("owner_path", len(old_prefix) + 1, Length("owner_path")))
    )


# ---------------------------------------------------------------------------------------------------
# Purchases


def purchase_record(
    *, contact: Contact, entity: Entity, date: datetime.date, amount: Decimal, category: str = ""
) -> Purchase:
    """Record a sale; the buyer becomes a customer and the ownership rule runs again."""
    scope = get_scope()
    _check_owned(contact)
    with transaction.atomic():
        purchase = Purchase.unscoped.create(
            organisation_id=scope.organisation_id,
            contact=contact,
            entity=entity,
            date=date,
            amount=amount,
            category=category[:80],
        )
        Contact.unscoped.filter(pk=contact.pk).update(
            kind=Contact.Kind.CUSTOMER, last_activity_at=timezone.now()
        )
        recompute_ownership(contacts=[contact.pk])
    contact.refresh_from_db()
    return purchase


# ---------------------------------------------------------------------------------------------------
# Personal-data rights


def contact_export(contact: Contact) -> dict[str, Any]:
    """Everything held about the person (right of access), consent proof included; the export is
    recorded in the audit trail (who took the person's data, when).

    Purchases and the ledger are read unscoped on purpose: the person's data, whichever store
    collected it; the caller already reached ``contact`` through its scope."""
    audit.record(action="contact.export", summary=f"contact #{contact.pk}", entity_id=contact.owner_id)
    profile = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    profile["birth_date"] = contact.birth_date.isoformat() if contact.birth_date else None
    profile["tags"] = contact.tag_list
    return {
        "id": contact.pk,
        "exported_at": timezone.now().isoformat(),
        "profile": profile,
        "owner": {"id": contact.owner_id, "code": contact.owner.code, "name": contact.owner.name},
        "created_at": contact.created_at.isoformat(),
        "last_activity_at": contact.last_activity_at.isoformat() if contact.last_activity_at else None,
        "consent": contact.consents(),
        "consent_ledger": [
            e.as_proof() for e in ConsentEvent.unscoped.filter(contact=contact).order_by("created_at", "id")
        ],
        "purchases": [
            {
                "date": p.date.isoformat(),
                "amount": str(p.amount),
                "category": p.category,
                "entity_id": p.entity_id,
            }
            for p in Purchase.unscoped.filter(contact=contact).order_by("date", "id")
        ],
        "ownership_history": [
            {
                "from": t.from_entity_id,
                "to": t.to_entity_id,
                "reason": t.reason,
                "detail": t.detail,
                "at": t.created_at.isoformat(),
            }
            for t in OwnershipTransfer.unscoped.filter(contact=contact).order_by("created_at", "id")
        ],
    }


@dataclass(frozen=True)
class ErasedPerson:
    """Who is being erased, for the apps that keep copies of their data (see ``ERASURE_HOOKS``)."""

    organisation_id: int
    contact_id: int
    email: str
    mobile: str


# Called inside contact_erase's transaction, before the contact row goes, as hook(person) by the apps
# that keep copies of a person's data (the delivery outbox: addresses, texts, provider details).
# Registered from their AppConfig.ready: audience never imports them (dependencies point to audience).
ERASURE_HOOKS: list[Callable[[ErasedPerson], None]] = []


def contact_erase(*, contact: Contact, suppress_marketing: bool = True) -> None:
    """Erase a person: personal data gone — here and, through ``ERASURE_HOOKS`` in the same
    transaction, in every copy other apps keep (outbox rows, their events and exclusions); the hashes
    stay on the opposition list (every channel) so that a re-import never makes them reachable again;
    the ledger and purchases are kept anonymised (no contact, no IP) as proof and for statistics."""
    _check_owned(contact)
    pk, owner_id, org_id = contact.pk, contact.owner_id, contact.organisation_id
    person = ErasedPerson(organisation_id=org_id, contact_id=pk, email=contact.email, mobile=contact.mobile)
    with transaction.atomic():
        for hook in ERASURE_HOOKS:
            hook(person)
        if suppress_marketing:
            for channel in Channel.values:
                suppress(
                    organisation_id=org_id,
                    channel=channel,
                    hashes=channel_hashes(channel, contact.email_hash, contact.mobile_hash),
                    reason=Suppression.Reason.ERASURE,
                )
        # The ledger is append-only for everyone else; erasure is its one sanctioned rewrite.
        ConsentEvent.unscoped.filter(contact_id=pk).update(contact=None, ip=None)
        Purchase.unscoped.filter(contact_id=pk).update(contact=None)
        Contact.unscoped.filter(pk=pk).delete()
        audit.record(
            action="contact.erase" if suppress_marketing else "contact.retention",
            summary=f"contact #{pk}",
            entity_id=owner_id,
        )


def inactive_prospects(now: datetime.datetime | None = None) -> Any:
    """Prospects with no activity (collection or prospect-initiated contact) for the retention period."""
    scope = get_scope()
    years = settings_for(scope.organisation_id).prospect_retention_years
    cutoff = (now or timezone.now()) - datetime.timedelta(days=int(365.25 * years))
    return Contact.objects.filter(kind=Contact.Kind.PROSPECT).filter(
        Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True, created_at__lt=cutoff)
    )


def purge_inactive_prospects(now: datetime.datetime | None = None, report: Any = None) -> int:
    """Delete the prospects past retention (no suppression: it is not an objection)."""
    ids = list(inactive_prospects(now).values_list("pk", flat=True))
    for index, pk in enumerate(ids, start=1):
        contact = Contact.objects.get(pk=pk)
        contact_erase(contact=contact, suppress_marketing=False)
        if report and index % 100 == 0:
            report(index, len(ids))
    if report:
        report(len(ids), len(ids))
    return len(ids)
