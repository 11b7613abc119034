"""Audience criteria as data, and the contacts a campaign may address (owned contacts only).

Criteria are a small dict HQ and stores can store and compare: ``{"kind": "customer", "tags": ["vip"],
"postcodes": ["59000"]}``. HQ chooses which keys stores may use for local campaigns
(``CampaignSettings.local_criteria``); an operation's criteria are HQ's, and a store may only remove
contacts from the result, never add any.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from glocal.audience.models import Contact
from glocal.audience.selectors import address_q, consent_q, suppressed_q

CRITERIA_KEYS = ("kind", "tags", "postcodes")
# Template channel → the consent/address channel of the audience app.
AUDIENCE_CHANNEL = {"email": "email", "sms": "sms", "print": "postal"}


def clean_criteria(data: Any, allowed: list[str] | tuple[str, ...] = CRITERIA_KEYS) -> dict[str, Any]:
    """Normalise criteria; a key outside ``allowed`` is refused (never silently dropped)."""
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise ValidationError(_("The audience criteria must be an object."))
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if key not in CRITERIA_KEYS:
            raise ValidationError(_("“%(key)s” is not an audience criterion.") % {"key": key})
        if value in (None, "", []):
            continue
        if key not in allowed:
            raise ValidationError(_("Head office does not allow the criterion “%(key)s”.") % {"key": key})
        if key == "kind":
            if value not in Contact.Kind.values:
                raise ValidationError(_("Unknown kind of contact."))
            clean[key] = value
        else:
            items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
            items = [str(i).strip().lower() for i in items if str(i).strip()]
            if len(items) > 20:
                raise ValidationError(_("At most 20 values per criterion."))
            if items:
                clean[key] = sorted(set(items))
    return clean


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
    return " · ".join(parts) or _("all owned contacts")


def matching(entity_path: str, criteria: dict[str, Any]) -> QuerySet[Contact]:
    """The contacts owned by the entity (and its subtree) that match the criteria (scoped manager)."""
    return Contact.objects.filter(owner_path__startswith=entity_path).filter(criteria_q(criteria))


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
