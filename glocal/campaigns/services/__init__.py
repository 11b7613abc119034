"""Writes on operations, campaigns, approvals, the calendar and budgets. The UI, the (future) API,
jobs and commands all call these functions; every state change goes through
:func:`campaign_transition` and so through the one state machine (``states.py``).

Every function runs inside an active scope; objects come from scoped managers, so a foreign id is a
``DoesNotExist`` (404 in views) exactly like a missing one.

One module per part, importing one way (``_common`` ← ``transitions`` ← the others):

- ``_common``: role checks, the edit rule (``may_edit``), messages, ``refused``, superseding steps;
- ``_mail``: the platform's own mails about campaigns and who gets them (``approvers``);
- ``settings``: campaign settings, template approval policies;
- ``transitions``: ``campaign_transition`` and the spend ledger;
- ``local``: local campaigns (create, update, cancel);
- ``approval``: submission, proofs and approval (BAT);
- ``sending``: the delivery engine's moves;
- ``operations``: central operations, waves, participation;
- ``deadlines``: deadlines and reminders (idempotent);
- ``planning``: calendar slots and budgets.

Callers import from here (``from glocal.campaigns import services``); a test that patches a name
patches it in the module that uses it.
"""

from glocal.core.scope import system_scope

from ._common import DEADLINE_PASSED, NOT_EDITABLE, NOT_YOURS_TO_REOPEN, REOPENED_BY_EDIT, may_edit, refused
from ._mail import approvers
from .approval import approval_decide, approvals_bulk, campaign_save, campaign_submit
from .deadlines import close_deadlines, close_due_deadlines, send_reminders
from .local import campaign_cancel, campaign_create, campaign_update
from .operations import (
    operation_cancel,
    operation_create,
    operation_publish,
    participation_decide,
    wave_add,
    wave_set_defaults,
)
from .planning import budget_close, budget_save, slot_create
from .sending import campaign_mark_sent, campaign_start_sending
from .settings import check_holdout, default_holdout, holdout_range, settings_save, template_policy_set
from .transitions import campaign_transition

__all__ = [
    # rules and messages
    "DEADLINE_PASSED",
    "NOT_EDITABLE",
    "NOT_YOURS_TO_REOPEN",
    "REOPENED_BY_EDIT",
    "may_edit",
    "refused",
    # the kernel's scope for jobs and commands (callers reach it as ``services.system_scope``)
    "system_scope",
    # settings
    "settings_save",
    "template_policy_set",
    # control groups
    "check_holdout",
    "default_holdout",
    "holdout_range",
    # the state machine
    "campaign_transition",
    # local campaigns
    "campaign_cancel",
    "campaign_create",
    "campaign_update",
    # submission, proofs and approval
    "approval_decide",
    "approvals_bulk",
    "approvers",
    "campaign_save",
    "campaign_submit",
    # sending
    "campaign_mark_sent",
    "campaign_start_sending",
    # operations
    "operation_cancel",
    "operation_create",
    "operation_publish",
    "participation_decide",
    "wave_add",
    "wave_set_defaults",
    # deadlines and reminders
    "close_deadlines",
    "close_due_deadlines",
    "send_reminders",
    # calendar and budgets
    "budget_close",
    "budget_save",
    "slot_create",
]
