"""Audience criteria as data, and the contacts a campaign may address (owned contacts only).

Criteria are a small dict HQ and stores can store and compare: ``{"kind": "customer", "tags": ["vip"],
"postcodes": ["59000"]}``. HQ chooses which keys stores may use for local campaigns
(``CampaignSettings.local_criteria``); an operation's criteria are HQ's, and a store may only remove
contacts from the result, never add any.

A campaign may instead (or as well) address a **source** the targeting app owns: ``{"segment": 12}`` (a
saved segment: HQ's, or the store's own within HQ's guardrails; compiled for the campaign's store) or
``{"prospect_list": 5}`` (the external list rented for this campaign: its rows, never contacts). The
campaigns app never imports targeting: targeting registers one :class:`AudienceSource` per kind in
:data:`AUDIENCE_SOURCES` from its ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from glocal.audience.models import Channel, Contact, Suppression, hash_value
from glocal.audience.selectors import address_q, consent_q, suppressed_q

if TYPE_CHECKING:
    from glocal.network.models import Entity

    from .models import Campaign

CRITERIA_KEYS = ("kind", "tags", "postcodes")
SOURCE_KEYS = ("segment", "prospect_list")  # resolved through AUDIENCE_SOURCES (registered by targeting)
# Template channel → the consent/address channel of the audience app.
AUDIENCE_CHANNEL = {"email": "email", "sms": "sms", "print": "postal"}


def clean_criteria(data: Any, allowed: list[str] | tuple[str, ...] = CRITERIA_KEYS) -> dict[str, Any]:
    """Normalise criteria; a key outside ``allowed`` is refused (never silently dropped). A source
    (segment, rented list) is always allowed here: whether the scope may use it is
    :func:`check_sources`'."""
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise ValidationError(_("The audience criteria must be an object."))
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if key in SOURCE_KEYS:
            if value not in (None, "", 0):
                clean[key] = _source_id(value)
            continue
        if key not in CRITERIA_KEYS:
            raise ValidationError(_("“%(key)s” is not an audience criterion.") % {"key": key})
        if value in (None, "", []):
            continue
        if key not in allowed:
            raise ValidationError(_("Head office does not allow the criterion “%(key)s”.") % {"key": key})
        cleaned = _clean_value(key, value)
        if cleaned:
            clean[key] = cleaned
    if "prospect_list" in clean and len(clean) > 1:
        raise ValidationError(_("A rented list is addressed alone: remove the other criteria."))
    return clean


def _clean_value(key: str, value: Any) -> Any:
    if key == "kind":
        if value not in Contact.Kind.values:
            raise ValidationError(_("Unknown kind of contact."))
        return value
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    items = [str(i).strip().lower() for i in items if str(i).strip()]
    if len(items) > 20:
        raise ValidationError(_("At most 20 values per criterion."))
    return sorted(set(items))


def _source_id(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(_("Unknown audience.")) from None
    if number <= 0:
        raise ValidationError(_("Unknown audience."))
    return number


# -- sources the targeting app owns (segments, rented lists) -----------------------------------------


@dataclass(frozen=True)
class SourceChoice:
    kind: str  # a key of SOURCE_KEYS
    pk: int
    label: str
    count: int | None = None  # the live count for the store (contacts, or the list's rows)

    @property
    def value(self) -> str:
        return f"{self.kind}:{self.pk}"


@dataclass(frozen=True)
class ExternalRecipient:
    """One row of a rented list: not a Contact; ``ref`` is unique within the campaign ("p123")."""

    ref: str
    email: str = ""
    mobile: str = ""
    postcode: str = ""
    first_name: str = ""
    last_name: str = ""
    city: str = ""


@dataclass
class ExternalRows:
    """A rented list's rows and the channels its consent basis (recorded at upload) allows."""

    label: str
    rows: list[ExternalRecipient]
    channels: tuple[str, ...]  # audience channels: email, sms, postal


@dataclass(frozen=True)
class AudienceSource:
    """What the targeting app answers for one kind of source. ``contacts_q(pk, entity_path)``: the Q
    over Contact for the store at ``entity_path`` (raises ValidationError saying why it is refused, e.g.
    HQ's guardrails); ``choices(entity, campaign)``: what the acting scope may pick, with live counts;
    ``label(pk)``: its name; ``external(pk, campaign)``: the rows of a source that is not contacts."""

    contacts_q: Callable[[int, str], Q]
    choices: Callable[[Entity, Campaign | None], list[SourceChoice]]
    label: Callable[[int], str]
    external: Callable[[int, Campaign], ExternalRows] | None = None


AUDIENCE_SOURCES: dict[str, AudienceSource] = {}


def source_choices(entity: Entity, campaign: Campaign | None = None) -> list[SourceChoice]:
    """Every source the acting scope may use for a campaign of ``entity``."""
    return [
        c
        for kind in SOURCE_KEYS
        if kind in AUDIENCE_SOURCES
        for c in AUDIENCE_SOURCES[kind].choices(entity, campaign)
    ]


def check_sources(criteria: dict[str, Any], entity: Entity, campaign: Campaign | None = None) -> None:
    """A source in ``criteria`` must be one the acting scope may use for this campaign (else refused)."""
    wanted = {(k, criteria[k]) for k in SOURCE_KEYS if criteria.get(k)}
    if not wanted:
        return
    offered = {(c.kind, c.pk) for c in source_choices(entity, campaign)}
    if wanted - offered:
        raise ValidationError(_("This segment or list is not available to this campaign."))


def source_problem(criteria: dict[str, Any], entity_path: str) -> str | None:
    """Why the campaign's source cannot be used now (a segment HQ's guardrails refuse today, a purged
    list…), or None. The launch asks before reading the audience."""
    try:
        sources_q(criteria, entity_path)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


def sources_q(criteria: dict[str, Any], entity_path: str) -> Q:
    q = Q()
    for kind in SOURCE_KEYS:
        if criteria.get(kind):
            source = AUDIENCE_SOURCES.get(kind)
            if source is None:
                raise ValidationError(_("This kind of audience is not available."))
            q &= source.contacts_q(int(criteria[kind]), entity_path)
    return q


@dataclass
class ExternalAudience:
    """A rented list's rows for a campaign, each a candidate (address) or excluded with its reason."""

    prospect_list: int
    label: str
    candidates: dict[str, tuple[str, ExternalRecipient]] = field(default_factory=dict)  # ref → address, row
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason: Exclusion.Reason value)


def external_audience(campaign: Campaign) -> ExternalAudience | None:
    """The rented list the campaign addresses, classified on its channel: the list's consent basis
    must allow the channel, the row needs an address for it, and nobody on the opposition list (read
    now, by hash) is addressed. None when the campaign addresses no list."""
    pk = (campaign.audience_criteria or {}).get("prospect_list")
    source = AUDIENCE_SOURCES.get("prospect_list")
    if not pk or source is None or source.external is None:
        return None
    found = source.external(int(pk), campaign)
    channel = AUDIENCE_CHANNEL.get(campaign.channel, "")
    result = ExternalAudience(int(pk), found.label)
    field_name = {"email": "email", "sms": "mobile", "postal": "postcode"}.get(channel, "")
    opposed = _opposed_hashes(campaign.organisation_id, [v for r in found.rows for v in (r.email, r.mobile)])
    for row in found.rows:
        address = getattr(row, field_name) if field_name else ""
        if channel not in found.channels:
            result.excluded.append((row.ref, "no_consent"))
        elif not address:
            result.excluded.append((row.ref, "no_address"))
        elif any(v and hash_value(v) in opposed for v in (row.email, row.mobile)):
            result.excluded.append((row.ref, "opposition"))
        else:
            result.candidates[row.ref] = (address, row)
    return result


def _opposed_hashes(organisation_id: int, values: list[str]) -> set[str]:
    """Of the rows' emails and mobiles, the hashes on the opposition list, any channel (as at upload:
    a rented list never reaches someone who opposed anywhere)."""
    hashes = [hash_value(v) for v in values if v]
    found: set[str] = set()
    channels = [Channel.EMAIL, Channel.SMS, Channel.POSTAL, Channel.PHONE]
    for start in range(0, len(hashes), 5000):
        found.update(
            Suppression.unscoped.filter(
                organisation_id=organisation_id,
                channel__in=channels,
                value_hash__in=hashes[start : start + 5000],
            ).values_list("value_hash", flat=True)
        )
    return found


def criteria_q(criteria: dict[str, Any]) -> Q:
    q = Q()
    if criteria.get("kind"):
        q &= Q(kind=criteria["kind"])
    if criteria.get("tags"):
        tag_q = Q()
        for tag in criteria["tags"]:
            tag_q |= Q(tags__contains=f"|{tag}|")
        q &= tag_q
    if criteria.get("postcodes"):
        q &= Q(postcode__in=criteria["postcodes"])
    return q


def describe(criteria: dict[str, Any]) -> str:
    parts = []
    if criteria.get("kind"):
        parts.append(str(Contact.Kind(criteria["kind"]).label))
    if criteria.get("tags"):
        parts.append(_("tags: %(tags)s") % {"tags": ", ".join(criteria["tags"])})
    if criteria.get("postcodes"):
        parts.append(_("postcodes: %(p)s") % {"p": ", ".join(criteria["postcodes"])})
    for kind in SOURCE_KEYS:
        if criteria.get(kind) and kind in AUDIENCE_SOURCES:
            parts.append(AUDIENCE_SOURCES[kind].label(int(criteria[kind])))
    return " · ".join(parts) or _("all owned contacts")


def matching(entity_path: str, criteria: dict[str, Any]) -> QuerySet[Contact]:
    """The contacts owned by the entity (and its subtree) that match the criteria (scoped manager); a
    segment in the criteria adds its compiled Q (ValidationError when it is refused), a rented list
    matches no contact (its rows are :func:`external_audience`'s)."""
    q = criteria_q(criteria) & sources_q(criteria, entity_path)
    return Contact.objects.filter(owner_path__startswith=entity_path).filter(q)


def reachable_on(channel: str) -> Q:
    audience_channel = AUDIENCE_CHANNEL.get(channel)
    if audience_channel is None:
        return Q(pk__in=[])
    return consent_q(audience_channel) & address_q(audience_channel) & ~suppressed_q(audience_channel)


def recipients(
    entity_path: str, criteria: dict[str, Any], channel: str, excluded: list[int]
) -> QuerySet[Contact]:
    """Who the campaign would address: owned × criteria × consent × address × not opposed − removed."""
    qs = matching(entity_path, criteria).filter(reachable_on(channel))
    if excluded:
        qs = qs.exclude(pk__in=excluded)
    return qs
