"""The ONE campaign state machine (pure: no ORM, no request).

``TRANSITIONS`` maps (state, event) to (next state, guards). Every caller — the UI, the (future) API,
jobs and commands — goes through :func:`next_state` (via ``services.campaign_transition``), so a pair
that is not in the table is refused everywhere alike. Guards are names of facts the caller must assert
(``Facts``); a guard that does not hold refuses the transition with its reason.

    draft → submitted → approved | changes_requested;  approved → scheduled → sending → sent
    cancelled from any non-final state; editing a submitted, approved or scheduled campaign returns
    it to draft (its approvals no longer count).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"


class Event(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    SCHEDULE = "schedule"
    START_SENDING = "start_sending"
    FINISH_SENDING = "finish_sending"
    CANCEL = "cancel"


STATE_LABELS = {
    State.DRAFT: _("Draft"),
    State.SUBMITTED: _("Awaiting approval"),
    State.APPROVED: _("Approved"),
    State.CHANGES_REQUESTED: _("Changes requested"),
    State.SCHEDULED: _("Scheduled"),
    State.SENDING: _("Sending"),
    State.SENT: _("Sent"),
    State.CANCELLED: _("Cancelled"),
}
EVENT_LABELS = {
    Event.EDIT: _("edited"),
    Event.SUBMIT: _("submitted"),
    Event.APPROVE: _("approved"),
    Event.REQUEST_CHANGES: _("requested changes"),
    Event.SCHEDULE: _("scheduled"),
    Event.START_SENDING: _("started sending"),
    Event.FINISH_SENDING: _("finished sending"),
    Event.CANCEL: _("cancelled"),
}
# A campaign's first history line (its creation) is recorded with this event, outside the table.
CREATED = "create"
CREATED_LABEL = _("created")


def state_label(code: str) -> str:
    """A state by its name in the reader's language (the code when unknown)."""
    try:
        return str(STATE_LABELS[State(code)])
    except ValueError:
        return code


def event_label(code: str) -> str:
    """An event (a history line's action) by its name in the reader's language."""
    if code == CREATED:
        return str(CREATED_LABEL)
    try:
        return str(EVENT_LABELS[Event(code)])
    except ValueError:
        return code


FINAL = frozenset({State.SENT, State.CANCELLED})

# Guard names (facts the caller asserts).
CONTENT_OK = "content_ok"  # zone values valid, no blocking compliance finding
BUDGET_OK = "budget_ok"  # within budget, or routed to HQ approval
APPROVALS_COMPLETE = "approvals_complete"  # every approval step of the current round approved
SEND_TIME_SET = "send_time_set"  # a send date/time exists
HAS_COMMENT = "has_comment"  # a request for changes says what to change

TRANSITIONS: dict[tuple[State, Event], tuple[State, tuple[str, ...]]] = {
    (State.DRAFT, Event.EDIT): (State.DRAFT, ()),
    (State.DRAFT, Event.SUBMIT): (State.SUBMITTED, (CONTENT_OK, BUDGET_OK, SEND_TIME_SET)),
    (State.CHANGES_REQUESTED, Event.EDIT): (State.DRAFT, ()),
    (State.CHANGES_REQUESTED, Event.SUBMIT): (State.SUBMITTED, (CONTENT_OK, BUDGET_OK, SEND_TIME_SET)),
    (State.SUBMITTED, Event.EDIT): (State.DRAFT, ()),
    (State.SUBMITTED, Event.APPROVE): (State.APPROVED, (APPROVALS_COMPLETE,)),
    (State.SUBMITTED, Event.REQUEST_CHANGES): (State.CHANGES_REQUESTED, (HAS_COMMENT,)),
    (State.APPROVED, Event.EDIT): (State.DRAFT, ()),
    (State.APPROVED, Event.SCHEDULE): (State.SCHEDULED, (SEND_TIME_SET,)),
    (State.SCHEDULED, Event.EDIT): (State.DRAFT, ()),
    (State.SCHEDULED, Event.START_SENDING): (State.SENDING, ()),
    (State.SENDING, Event.FINISH_SENDING): (State.SENT, ()),
}
for _state in State:
    if _state not in FINAL:
        TRANSITIONS[(_state, Event.CANCEL)] = (State.CANCELLED, ())

GUARD_MESSAGES = {
    CONTENT_OK: _("The content has errors to fix first."),
    BUDGET_OK: _("The estimated cost is over the available budget."),
    APPROVALS_COMPLETE: _("Every approval step must be approved first."),
    SEND_TIME_SET: _("Choose a send date and time first."),
    HAS_COMMENT: _("Say what should change."),
}


class TransitionRefused(Exception):
    """The (state, event) pair is not allowed, or a guard does not hold."""

    def __init__(self, state: str, event: str, reason: str, guard: str = "") -> None:
        super().__init__(reason)
        self.state, self.event, self.reason, self.guard = state, event, reason, guard


@dataclass(frozen=True)
class Facts:
    """What the caller knows about the campaign when it asks for a transition."""

    content_ok: bool = True
    budget_ok: bool = True
    approvals_complete: bool = True
    send_time_set: bool = True
    has_comment: bool = True


def allowed_events(state: str) -> list[Event]:
    return [event for (s, event) in TRANSITIONS if s == state]


def next_state(state: str, event: str, facts: Facts | None = None) -> State:
    """The state after ``event`` in ``state``, or :class:`TransitionRefused`."""
    try:
        key = (State(state), Event(event))
    except ValueError:
        raise TransitionRefused(state, event, str(_("Unknown state or event."))) from None
    if key not in TRANSITIONS:
        raise TransitionRefused(
            state,
            event,
            str(_("A campaign that is “%(state)s” cannot be %(event)s."))
            % {"state": STATE_LABELS[key[0]], "event": EVENT_LABELS[key[1]]},
        )
    target, guards = TRANSITIONS[key]
    facts = facts or Facts()
    for guard in guards:
        if not getattr(facts, guard):
            raise TransitionRefused(state, event, str(GUARD_MESSAGES[guard]), guard)
    return target
