"""What every part of the campaign services shares: the role checks, the edit rule, the messages,
turning a refused transition into a ``ValidationError``, and superseding pending approval steps.
Imports nothing else from the package, so every module may import it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope

from ..models import ApprovalStep, Campaign
from ..states import State, TransitionRefused

NOT_EDITABLE = _("A campaign that is sent or cancelled cannot be changed.")
# An edit in these states sends the campaign back to draft (states.TRANSITIONS): it withdraws a
# submission or an approval, which only a role that may submit may do.
REOPENED_BY_EDIT = (State.SUBMITTED, State.APPROVED, State.SCHEDULED)
NOT_YOURS_TO_REOPEN = _(
    "This campaign is awaiting approval, approved or scheduled: a change would send it back to draft. "
    "Only a manager can change it now."
)
DEADLINE_PASSED = _("The deadline has passed.")


def _require(action: Action) -> None:
    if not role_allows(get_scope().role, action):
        raise PermissionDenied


def may_edit(campaign: Campaign, role: str) -> bool:
    """May ``role`` change ``campaign`` now? (The edit page, the campaign page's link and
    ``campaign_update`` agree on it.)"""
    if campaign.is_final or not role_allows(role, Action.CAMPAIGN_CREATE):
        return False
    return campaign.state not in REOPENED_BY_EDIT or role_allows(role, Action.CAMPAIGN_SUBMIT)


def refused(exc: TransitionRefused) -> ValidationError:
    return ValidationError(exc.reason, code=exc.guard or "not_allowed")


def _supersede_pending(campaign: Campaign) -> None:
    ApprovalStep.objects.filter(campaign=campaign, status=ApprovalStep.Status.PENDING).update(
        status=ApprovalStep.Status.SUPERSEDED
    )
