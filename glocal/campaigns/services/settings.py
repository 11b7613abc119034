"""The organisation's campaign settings and the approval policy of each template (HQ)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.roles import Action
from glocal.core.scope import get_scope
from glocal.creatives.models import ChannelTemplate

from .. import audience
from ..models import ApprovalPolicy, CampaignSettings, Operation, TemplatePolicy
from ._common import _require


def settings_save(*, changes: dict[str, Any]) -> CampaignSettings:
    _require(Action.BUDGET_MANAGE)
    scope = get_scope()
    obj, _created = CampaignSettings.objects.get_or_create(organisation_id=scope.organisation_id)
    for key, value in changes.items():
        setattr(obj, key, value)
    unknown = set(obj.local_criteria) - set(audience.CRITERIA_KEYS)
    if unknown:
        raise ValidationError({"local_criteria": _("Unknown criteria.")})
    obj.full_clean()
    if not obj.holdout_min <= obj.holdout_default <= obj.holdout_max:
        raise ValidationError(
            {"holdout_default": _("The default control group must lie between the smallest and the largest.")}
        )
    obj.save()
    audit.record(action="campaign.settings", summary="campaign settings")
    return obj


def template_policy_set(*, template: ChannelTemplate, policy: str) -> None:
    """HQ sets the approval policy of local campaigns made from ``template`` (every policy, including
    automatic and multi-step). Campaigns already created keep theirs."""
    _require(Action.OPERATION_MANAGE)
    if policy not in ApprovalPolicy.values:
        raise ValidationError(_("Unknown approval policy."))
    TemplatePolicy.objects.update_or_create(
        template=template, defaults={"organisation_id": template.organisation_id, "policy": policy}
    )
    audit.record(
        action="campaign.template_policy",
        summary=f"{template.name}: {policy}",
        data={"template": template.name, "policy": policy},
    )


# -- control groups (hold-outs) ----------------------------------------------------------------------


def holdout_range(settings: CampaignSettings) -> tuple[int, int]:
    return settings.holdout_min, settings.holdout_max


def holdout_error(percent: int, settings: CampaignSettings) -> str | None:
    """Why ``percent`` is not a control group a store may choose (HQ's range), or None."""
    low, high = holdout_range(settings)
    if low <= percent <= high:
        return None
    return _("Choose a control group between %(low)s %% and %(high)s %%.") % {"low": low, "high": high}


def check_holdout(percent: int, settings: CampaignSettings, field: str = "holdout_percent") -> int:
    """``percent`` when HQ's range allows it; else a ValidationError on ``field`` naming the range."""
    problem = holdout_error(percent, settings)
    if problem:
        raise ValidationError({field: problem})
    return percent


def default_holdout(settings: CampaignSettings, operation: Operation | None = None) -> int:
    """A new campaign's control group: its operation's share, else the organisation's default."""
    if operation is not None and operation.holdout_percent is not None:
        return operation.holdout_percent
    return settings.holdout_default
