"""Local campaigns: creation from a published template, edits (content, audience, date, name,
excluded contacts) and cancellation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.roles import Action
from glocal.core.scope import get_scope
from glocal.creatives import selectors as creative_selectors
from glocal.creatives import services as creative_services
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Entity

from .. import audience, selectors
from ..models import Campaign, CampaignTransition, line_key
from ..states import Event, State
from ._common import DEADLINE_PASSED, NOT_EDITABLE, REOPENED_BY_EDIT, _require, _supersede_pending
from .settings import check_holdout, default_holdout
from .transitions import campaign_transition


def campaign_create(*, entity: Entity, template: ChannelTemplate, name: str = "") -> Campaign:
    """A local campaign in draft, from a published template visible to the store."""
    _require(Action.CAMPAIGN_CREATE)
    scope = get_scope()
    if not scope.covers_path(entity.path) or not entity.entity_type.is_local or not entity.is_active:
        raise PermissionDenied
    version = template.published_version()
    if version is None or template.status != ChannelTemplate.Status.PUBLISHED:
        raise ValidationError(_("Only a published template can be used."))
    if not entity.path.startswith(template.entity.path):
        raise PermissionDenied
    with transaction.atomic():
        campaign = Campaign.objects.create(
            organisation_id=scope.organisation_id,
            entity=entity,
            kind=Campaign.Kind.LOCAL,
            name=(name or template.name).strip()[:160],
            version=version,
            values=creative_selectors.stored_values(version, entity),
            approval_policy=selectors.template_policy(template),
            holdout_percent=default_holdout(selectors.settings_for(scope.organisation_id)),
            created_by_id=scope.user_id,
        )
        CampaignTransition.objects.create(
            organisation_id=campaign.organisation_id,
            campaign=campaign,
            from_state="",
            to_state=State.DRAFT,
            event="create",
            actor_id=scope.user_id,
        )
        audit.record(action="campaign.create", summary=campaign.name, entity_id=entity.pk)
    return campaign


def campaign_update(
    *,
    campaign: Campaign,
    values: dict[str, Any] | None = None,
    criteria: dict[str, Any] | None = None,
    scheduled_at: dt.datetime | None = None,
    name: str | None = None,
    excluded: list[int] | None = None,
    budget_line: str | None = None,
    holdout_percent: int | None = None,
) -> Campaign:
    """Change a campaign's content, audience, date, name or budget line. Zone values go through the creatives
    personalisation service (locked zones refused, nothing written on any error). A change to a
    submitted, approved or scheduled campaign sends it back to draft: it needs approval again."""
    _check_editable(campaign)
    changes: dict[str, Any] = {
        **_criteria_change(campaign, criteria),
        **_schedule_change(campaign, scheduled_at),
        **_name_change(campaign, name),
        **_budget_line_change(campaign, budget_line),
        **_holdout_change(campaign, holdout_percent),
    }
    criteria_now = changes.get("audience_criteria", campaign.audience_criteria)
    changes.update(_excluded_change(campaign, excluded, criteria_now))
    with transaction.atomic():
        if values is not None:
            changes.update(_values_change(campaign, values))
        if not changes:
            return campaign
        _apply_changes(campaign, changes)
    return campaign


def _check_editable(campaign: Campaign) -> None:
    """The role may edit, the campaign is not final, and an operation's deadline has not passed."""
    _require(Action.CAMPAIGN_CREATE)
    if campaign.is_final:
        raise ValidationError(NOT_EDITABLE)
    # Read the state again: the caller's object may be older than a submission.
    current = Campaign.objects.filter(pk=campaign.pk).values_list("state", flat=True).first()
    if (current or campaign.state) in REOPENED_BY_EDIT:
        _require(Action.CAMPAIGN_SUBMIT)
    operation = campaign.operation if campaign.kind == Campaign.Kind.OPERATION else None
    if operation and timezone.now() >= operation.personalisation_deadline:
        raise ValidationError(DEADLINE_PASSED)


def _criteria_change(campaign: Campaign, criteria: dict[str, Any] | None) -> dict[str, Any]:
    """A local campaign's audience, within the organisation's allowed criteria; an operation's
    audience is HQ's and cannot change."""
    if criteria is None:
        return {}
    if campaign.kind == Campaign.Kind.OPERATION:
        if audience.clean_criteria(criteria) != campaign.audience_criteria:
            raise ValidationError(_("The audience of an operation is set by head office."))
        return {}
    allowed = selectors.settings_for(campaign.organisation_id).local_criteria
    clean = audience.clean_criteria(criteria, allowed)
    if clean != campaign.audience_criteria:
        audience.check_sources(clean, campaign.entity, campaign)  # a segment or list this scope may use
    return {"audience_criteria": clean} if clean != campaign.audience_criteria else {}


def _schedule_change(campaign: Campaign, scheduled_at: dt.datetime | None) -> dict[str, Any]:
    """A local campaign's send date, in the future (an operation's is its wave's)."""
    if scheduled_at is None or campaign.kind == Campaign.Kind.OPERATION:
        return {}
    if scheduled_at <= timezone.now():
        raise ValidationError({"scheduled_at": _("Choose a date and time in the future.")})
    return {"scheduled_at": scheduled_at} if scheduled_at != campaign.scheduled_at else {}


def _name_change(campaign: Campaign, name: str | None) -> dict[str, Any]:
    if name is not None and name.strip() and name.strip() != campaign.name:
        return {"name": name.strip()[:160]}
    return {}


def _budget_line_change(campaign: Campaign, budget_line: str | None) -> dict[str, Any]:
    """The budget line a local campaign's cost goes to: one its store may name ("": general)."""
    if budget_line is None or line_key(budget_line) == line_key(campaign.budget_line):
        return {}
    if campaign.kind == Campaign.Kind.OPERATION:
        raise ValidationError(_("The budget line of an operation is set by head office."))
    lines = {line_key(line): line for line in selectors.budget_lines(campaign.entity)}
    if line_key(budget_line) not in lines:
        raise ValidationError(_("This store has no open budget on that line."))
    return {"budget_line": lines[line_key(budget_line)]}


def _holdout_change(campaign: Campaign, percent: int | None) -> dict[str, Any]:
    """The share of the audience held out as a control group: within HQ's range (any campaign, local
    or of an operation: the store chooses its own hold-out)."""
    if percent is None or percent == campaign.holdout_percent:
        return {}
    check_holdout(percent, selectors.settings_for(campaign.organisation_id))
    return {"holdout_percent": percent}


def _excluded_change(
    campaign: Campaign, excluded: list[int] | None, criteria: dict[str, Any]
) -> dict[str, Any]:
    """Contacts removed by hand: only contacts of the campaign's own audience (under ``criteria``,
    the new one when it changes) can be removed; foreign ids are ignored."""
    if excluded is None:
        return {}
    wanted = sorted({int(i) for i in excluded})
    own = set(
        audience.matching(campaign.entity.path, criteria).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    clean_excluded = [i for i in wanted if i in own]
    if clean_excluded != sorted(int(i) for i in campaign.excluded_contacts):
        return {"excluded_contacts": clean_excluded}
    return {}


def _values_change(campaign: Campaign, values: dict[str, Any]) -> dict[str, Any]:
    """Zone values through the creatives personalisation service (it refuses locked zones)."""
    personalisation = creative_services.personalisation_save(
        version=campaign.version, entity=campaign.entity, values=values
    )
    changes: dict[str, Any] = {}
    if personalisation.values != campaign.values:
        changes["values"] = dict(personalisation.values)
    changes["personalised_at"] = timezone.now()
    return changes


def _apply_changes(campaign: Campaign, changes: dict[str, Any]) -> None:
    """Save ``changes``; a real change to a campaign past draft sends it back to draft."""
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.save()
    real = set(changes) - {"personalised_at"}
    if real and campaign.state != State.DRAFT:
        _supersede_pending(campaign)
        campaign_transition(campaign=campaign, event=Event.EDIT, comment=", ".join(sorted(real)))
    audit.record(
        action="campaign.edit",
        summary=campaign.name,
        entity_id=campaign.entity_id,
        data={"changed": sorted(changes)},
    )


def campaign_cancel(*, campaign: Campaign, comment: str = "") -> Campaign:
    _require(Action.CAMPAIGN_SUBMIT)
    with transaction.atomic():
        _supersede_pending(campaign)
        return campaign_transition(campaign=campaign, event=Event.CANCEL, comment=comment)
