"""The whole transition table: every allowed pair leads where the table says, every other pair and
every failing guard is refused. Pure: no database."""

from __future__ import annotations

import itertools

import pytest

from glocal.campaigns import states
from glocal.campaigns.states import FINAL, TRANSITIONS, Event, Facts, State, TransitionRefused, next_state

EXPECTED = {
    (State.DRAFT, Event.EDIT): State.DRAFT,
    (State.DRAFT, Event.SUBMIT): State.SUBMITTED,
    (State.DRAFT, Event.CANCEL): State.CANCELLED,
    (State.SUBMITTED, Event.EDIT): State.DRAFT,
    (State.SUBMITTED, Event.APPROVE): State.APPROVED,
    (State.SUBMITTED, Event.REQUEST_CHANGES): State.CHANGES_REQUESTED,
    (State.SUBMITTED, Event.CANCEL): State.CANCELLED,
    (State.CHANGES_REQUESTED, Event.EDIT): State.DRAFT,
    (State.CHANGES_REQUESTED, Event.SUBMIT): State.SUBMITTED,
    (State.CHANGES_REQUESTED, Event.CANCEL): State.CANCELLED,
    (State.APPROVED, Event.EDIT): State.DRAFT,
    (State.APPROVED, Event.SCHEDULE): State.SCHEDULED,
    (State.APPROVED, Event.CANCEL): State.CANCELLED,
    (State.SCHEDULED, Event.EDIT): State.DRAFT,
    (State.SCHEDULED, Event.START_SENDING): State.SENDING,
    (State.SCHEDULED, Event.CANCEL): State.CANCELLED,
    (State.SENDING, Event.FINISH_SENDING): State.SENT,
    (State.SENDING, Event.CANCEL): State.CANCELLED,
}
ALL_PAIRS = list(itertools.product(State, Event))


def test_the_table_is_exactly_the_documented_one():
    assert {k: v[0] for k, v in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS)
def test_every_pair(state, event):
    if (state, event) in EXPECTED:
        assert next_state(state, event, Facts()) == EXPECTED[(state, event)]
    else:
        with pytest.raises(TransitionRefused) as refused:
            next_state(state, event, Facts())
        assert refused.value.guard == ""


def test_final_states_accept_nothing():
    for state in FINAL:
        assert states.allowed_events(state) == []


def test_cancel_from_every_non_final_state():
    for state in set(State) - FINAL:
        assert next_state(state, Event.CANCEL) == State.CANCELLED


@pytest.mark.parametrize(("key", "guards"), [(k, v[1]) for k, v in TRANSITIONS.items() if v[1]])
def test_each_guard_refuses_alone(key, guards):
    state, event = key
    for guard in guards:
        with pytest.raises(TransitionRefused) as refused:
            next_state(state, event, Facts(**{guard: False}))
        assert refused.value.guard == guard


def test_unknown_state_or_event_is_refused():
    with pytest.raises(TransitionRefused):
        next_state("launched", Event.SUBMIT)
    with pytest.raises(TransitionRefused):
        next_state(State.DRAFT, "explode")
