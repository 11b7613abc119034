"""The one state machine (``states.py``) applied, with its side effects: the transition log, the
audit trail and the spend ledger."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from glocal.core import audit
from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope
from glocal.creatives.models import values_digest

from .. import selectors
from ..models import Budget, Campaign, CampaignTransition, LedgerEntry
from ..states import Event, Facts, State, TransitionRefused, next_state
from ._common import NOT_YOURS_TO_REOPEN, REOPENED_BY_EDIT, refused


def campaign_transition(
    *, campaign: Campaign, event: Event, facts: Facts | None = None, comment: str = ""
) -> Campaign:
    """Apply ``event`` (refused with ValidationError when the table or a guard says no), log it, and
    keep the spend ledger right: committed when scheduled, released when a scheduled campaign is
    edited back to draft or cancelled, replaced by the actual cost when sent."""
    scope = get_scope()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        try:
            target = next_state(locked.state, event, facts)
        except TransitionRefused as exc:
            raise refused(exc) from None
        before = locked.state
        if (
            event == Event.EDIT
            and before in REOPENED_BY_EDIT
            and not role_allows(scope.role, Action.CAMPAIGN_SUBMIT)
        ):
            raise PermissionDenied(NOT_YOURS_TO_REOPEN)
        locked.state = target
        locked.save(update_fields=["state", "updated_at"])
        CampaignTransition.objects.create(
            organisation_id=locked.organisation_id,
            campaign=locked,
            from_state=before,
            to_state=target,
            event=event,
            actor_id=scope.user_id,
            comment=comment[:2000],
            content_hash=values_digest({"v": locked.version_id, "values": locked.values}),
        )
        if target == State.SCHEDULED:
            _ledger_commit(locked)
        elif before in (State.SCHEDULED, State.SENDING) and target in (State.DRAFT, State.CANCELLED):
            _ledger_release(locked, note=str(event))
        elif target == State.SENT:
            _ledger_release(locked, note="sent")
            _ledger_actual(locked)
        audit.record(
            action=f"campaign.{event}",
            summary=f"{locked.name}: {before} → {target}",
            entity_id=locked.entity_id,
            data={"campaign": locked.pk, "name": locked.name, "from": str(before), "to": str(target)},
        )
    campaign.state = locked.state
    return locked


def _ledger_open(campaign: Campaign) -> Decimal:
    return LedgerEntry.objects.filter(
        campaign=campaign, kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE]
    ).aggregate(s=Sum("amount"))["s"] or Decimal("0")


def _ledger_entry(
    campaign: Campaign, kind: str, amount: Decimal, note: str = "", budget: Budget | None = None
) -> LedgerEntry:
    """A ledger row on ``budget`` (given: the budget its commitment was on), else on the open budget the
    campaign's line names, else the one covering its send date; ``chosen_by`` says which."""
    chosen_by = "commit" if budget is not None else ""
    if budget is None:
        day = (
            timezone.localtime(campaign.scheduled_at).date()
            if campaign.scheduled_at
            else timezone.localdate()
        )
        budget, chosen_by = selectors.budget_choice(campaign.entity, day, campaign.budget_line)
    share = budget.coop_share if budget else Decimal("0")
    return LedgerEntry.objects.create(
        organisation_id=campaign.organisation_id,
        entity=campaign.entity,
        budget=budget,
        campaign=campaign,
        kind=kind,
        amount=amount,
        coop_amount=(amount * share / 100).quantize(selectors.CENTS),
        note=note[:200],
        chosen_by=chosen_by,
    )


def _ledger_commit(campaign: Campaign) -> None:
    open_amount = _ledger_open(campaign)
    if open_amount:
        _ledger_release(campaign, note="recommit")
    _ledger_entry(campaign, LedgerEntry.Kind.COMMIT, campaign.estimated_cost, "scheduled")


def _ledger_release(campaign: Campaign, note: str) -> None:
    for budget_id in (
        LedgerEntry.objects.filter(
            campaign=campaign, kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE]
        )
        .values_list("budget_id", flat=True)
        .distinct()
    ):
        open_amount = LedgerEntry.objects.filter(
            campaign=campaign,
            budget_id=budget_id,
            kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE],
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        if open_amount:
            budget = Budget.objects.filter(pk=budget_id).first() if budget_id else None
            share = budget.coop_share if budget else Decimal("0")
            LedgerEntry.objects.create(
                organisation_id=campaign.organisation_id,
                entity=campaign.entity,
                budget=budget,
                campaign=campaign,
                kind=LedgerEntry.Kind.RELEASE,
                amount=-open_amount,
                coop_amount=(-open_amount * share / 100).quantize(selectors.CENTS),
                note=note,
            )


def _ledger_actual(campaign: Campaign) -> None:
    """The actual cost, on the budget the campaign was committed on (even if it closed since)."""
    amount = campaign.actual_cost if campaign.actual_cost is not None else campaign.estimated_cost
    commit = (
        LedgerEntry.objects.filter(campaign=campaign, kind=LedgerEntry.Kind.COMMIT, budget__isnull=False)
        .select_related("budget")
        .order_by("-at", "-pk")
        .first()
    )
    _ledger_entry(campaign, LedgerEntry.Kind.ACTUAL, amount, "sent", budget=commit.budget if commit else None)
