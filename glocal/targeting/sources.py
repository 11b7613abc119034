"""Segments and rented lists as campaign audiences: the resolvers registered in
``campaigns.audience.AUDIENCE_SOURCES`` (campaigns and delivery never import targeting).

- ``segment``: HQ's segments (owned by the organisation's root: shared to the network) and the segments
  of the campaign's store and of the nodes above it. Compiled for the campaign's store — in the store's
  subtree, so a store's count and audience are its own contacts — with HQ's guardrails for every segment
  not HQ's: a store's segment HQ's tightened rules refuse today is refused (the launch says why).
- ``prospect_list``: the active external list uploaded for THIS campaign (``records_for_campaign``): its
  rows, never contacts, addressed on the channels its consent basis (recorded at upload) allows.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from glocal.audience.models import Contact
from glocal.campaigns import audience as campaign_audience
from glocal.core.roles import Role
from glocal.core.scope import Scope, get_scope
from glocal.network.models import Entity

from . import prospects, segments
from .models import ProspectList, Segment


def _ancestor_ids(path: str) -> list[int]:
    return [int(part) for part in path.split("/") if part]


def _is_hq_segment(segment: Segment) -> bool:
    return segment.entity.parent_id is None


def _store_scope(segment: Segment, entity_path: str) -> Scope:
    """The scope a segment is compiled in for the store at ``entity_path``: the store's subtree; HQ's
    own role for HQ's segments, a store's (guarded) for every other."""
    role = Role.HQ_MARKETER if _is_hq_segment(segment) else Role.LOCAL_MANAGER
    ids = _ancestor_ids(entity_path)
    return Scope(
        organisation_id=segment.organisation_id,
        entity_id=ids[-1] if ids else 0,
        entity_path=entity_path,
        role=role,
    )


def _segment_for(pk: int, entity_path: str) -> Segment:
    """The segment, if the store at ``entity_path`` may use it (its owner is the store or above it)."""
    organisation_id = get_scope().organisation_id
    segment = (
        Segment.unscoped.filter(
            pk=pk, organisation_id=organisation_id, entity_id__in=_ancestor_ids(entity_path)
        )
        .select_related("entity")
        .first()
    )
    if segment is None:
        raise ValidationError(_("This segment is not available to this store."))
    return segment


def segment_q(pk: int, entity_path: str) -> Q:
    segment = _segment_for(pk, entity_path)
    try:
        return segments.compile_criteria(segment.criteria, _store_scope(segment, entity_path)).q
    except ValidationError as exc:
        raise ValidationError(
            _("The segment “%(name)s” no longer meets head office's rules: %(why)s")
            % {"name": segment.name, "why": " ".join(exc.messages)}
        ) from exc


def segment_label(pk: int) -> str:
    segment = Segment.unscoped.filter(pk=pk).select_related("entity").first()
    if segment is None:
        return _("a deleted segment")
    if _is_hq_segment(segment):
        return _("HQ segment “%(name)s”") % {"name": segment.name}
    return _("segment “%(name)s”") % {"name": segment.name}


def segment_choices(entity: Entity, campaign: Any = None) -> list[campaign_audience.SourceChoice]:
    """The segments a campaign of ``entity`` may target (HQ's, then its own and its region's), each
    with its live count for the store: the segment's criteria applied to the store's contacts. A
    segment HQ's guardrails refuse today is not offered."""
    found = (
        Segment.unscoped.filter(
            organisation_id=entity.organisation_id, entity_id__in=_ancestor_ids(entity.path)
        )
        .select_related("entity")
        .order_by("entity__path", "name", "pk")
    )
    choices = []
    for segment in found:
        try:
            q = segments.compile_criteria(segment.criteria, _store_scope(segment, entity.path)).q
        except ValidationError:
            continue
        count = (
            Contact.unscoped.filter(
                organisation_id=entity.organisation_id, owner_path__startswith=entity.path
            )
            .filter(q)
            .count()
        )
        choices.append(
            campaign_audience.SourceChoice("segment", segment.pk, segment_label(segment.pk), count)
        )
    return choices


# -- rented lists ------------------------------------------------------------------------------------

CONSENT_CHANNELS = {
    ProspectList.ConsentBasis.OPT_IN: ("email", "sms", "postal"),
    ProspectList.ConsentBasis.POSTAL: ("postal",),
}


def list_label(pk: int) -> str:
    plist = ProspectList.unscoped.filter(pk=pk).first()
    return _("rented list “%(name)s”") % {"name": plist.name if plist else "?"}


def list_q(pk: int, entity_path: str) -> Q:
    """A rented list matches no contact (its rows are not contacts); refused once purged."""
    plist = ProspectList.unscoped.filter(pk=pk, organisation_id=get_scope().organisation_id).first()
    if plist is None or not entity_path.startswith(plist.entity.path):
        raise ValidationError(_("This list is not available to this store."))
    if plist.status != ProspectList.Status.ACTIVE:
        raise ValidationError(_("The rented list “%(name)s” was purged.") % {"name": plist.name})
    return Q(pk__in=[])


def list_choices(entity: Entity, campaign: Any = None) -> list[campaign_audience.SourceChoice]:
    """The active lists uploaded for this very campaign (none before the campaign exists)."""
    if campaign is None or campaign.pk is None:
        return []
    return [
        campaign_audience.SourceChoice("prospect_list", plist.pk, list_label(plist.pk), plist.row_count)
        for plist in prospects.lists_for_campaign(campaign).order_by("pk")
    ]


def list_rows(pk: int, campaign: Any) -> campaign_audience.ExternalRows:
    plist = ProspectList.unscoped.filter(pk=pk, organisation_id=campaign.organisation_id).first()
    if plist is None:
        raise ValidationError(_("This list is not available to this store."))
    records = prospects.records_for_campaign(prospect_list=plist, campaign=campaign).order_by("pk")
    rows = [
        campaign_audience.ExternalRecipient(
            ref=f"p{r.pk}", email=r.email, mobile=r.mobile, postcode=r.postcode,
            first_name=r.first_name, last_name=r.last_name, city=r.city,
        )
        for r in records
    ]  # fmt: skip
    return campaign_audience.ExternalRows(list_label(pk), rows, CONSENT_CHANNELS.get(plist.consent_basis, ()))


def register() -> None:
    campaign_audience.AUDIENCE_SOURCES["segment"] = campaign_audience.AudienceSource(
        contacts_q=segment_q, choices=segment_choices, label=segment_label
    )
    campaign_audience.AUDIENCE_SOURCES["prospect_list"] = campaign_audience.AudienceSource(
        contacts_q=list_q, choices=list_choices, label=list_label, external=list_rows
    )
