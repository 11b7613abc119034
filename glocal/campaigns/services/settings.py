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
from ..models import ApprovalPolicy, CampaignSettings, TemplatePolicy
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
