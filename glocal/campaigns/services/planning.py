"""The calendar (slots) and budgets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.money import format_money
from glocal.core.roles import Action
from glocal.core.scope import get_scope
from glocal.network.models import Entity

from .. import selectors
from ..models import Budget, CalendarSlot, line_key
from ._common import _require


def slot_create(*, fields: dict[str, Any]) -> CalendarSlot:
    _require(Action.CALENDAR_MANAGE)
    scope = get_scope()
    entity = fields.get("entity") or Entity.objects.get(pk=scope.entity_id)
    if not scope.covers_path(entity.path):
        raise PermissionDenied
    slot = CalendarSlot(organisation_id=scope.organisation_id, **{**fields, "entity": entity})
    slot.full_clean()
    if slot.end < slot.start:
        raise ValidationError({"end": _("The window ends before it starts.")})
    slot.save()
    audit.record(
        action="calendar.slot",
        summary=f"{slot.kind} {slot.name}",
        entity_id=entity.pk,
        data={"kind": slot.kind, "name": slot.name},
    )
    return slot


BUDGET_FIELDS = ("entity", "label", "period_start", "period_end", "amount", "coop_share")


def _shown(value: Any) -> Any:
    """A budget field's value as recorded in the audit trail (JSON)."""
    if isinstance(value, Entity):
        return value.name
    return str(value) if value is not None else None


def _check_budget(budget: Budget) -> None:
    if budget.period_end < budget.period_start:
        raise ValidationError({"period_end": _("The period ends before it starts.")})
    if not Decimal("0") <= budget.coop_share <= Decimal("100"):
        raise ValidationError({"coop_share": _("A share between 0 and 100 %.")})
    same_line = [
        other
        for other in Budget.objects.filter(
            entity=budget.entity, period_start__lte=budget.period_end, period_end__gte=budget.period_start
        ).exclude(pk=budget.pk)
        if line_key(other.label) == line_key(budget.label)
    ]
    if same_line:
        raise ValidationError(
            _(
                "This budget line already has a budget for an overlapping period "
                "(%(start)s – %(end)s): give this one another line, or other dates."
            )
            % {
                "start": date_format(same_line[0].period_start, "SHORT_DATE_FORMAT"),
                "end": date_format(same_line[0].period_end, "SHORT_DATE_FORMAT"),
            }
        )
    if budget.pk:
        used = selectors.budget_status(budget)
        if budget.amount < used.committed + used.spent:
            raise ValidationError(
                {
                    "amount": _("At least %(used)s: already committed or spent on this budget.")
                    % {"used": format_money(used.committed + used.spent)}
                }
            )


def budget_save(*, fields: dict[str, Any], budget: Budget | None = None) -> Budget:
    """A new budget, or a change to an open one; the audit record keeps who, when, and each changed
    field's value before and after (the budget page's history). Two budgets of the same line (entity +
    label) may not overlap; different lines may."""
    _require(Action.BUDGET_MANAGE)
    scope = get_scope()
    entity = fields.get("entity") or (budget.entity if budget else None)
    if entity is None or not scope.covers_path(entity.path):
        raise PermissionDenied
    with transaction.atomic():
        if budget is not None:
            budget = Budget.objects.select_for_update().get(pk=budget.pk)
            if budget.closed_at:
                raise ValidationError(_("This budget is closed: it can no longer be changed."))
            if not scope.covers_path(budget.entity.path):
                raise PermissionDenied
        budget = budget or Budget(organisation_id=scope.organisation_id)
        before = {key: _shown(getattr(budget, key, None)) for key in BUDGET_FIELDS} if budget.pk else {}
        for key, value in fields.items():
            setattr(budget, key, " ".join(value.split()) if key == "label" else value)
        budget.full_clean()
        _check_budget(budget)
        created = budget.pk is None
        budget.save()
        after = {key: _shown(getattr(budget, key)) for key in BUDGET_FIELDS}
        changes = {k: [before.get(k), v] for k, v in after.items() if created or before.get(k) != v}
        audit.record(
            action="budget.save",
            summary=f"{budget.entity.name} {budget.amount}",
            entity_id=budget.entity_id,
            data={
                "budget": budget.pk,
                "entity": budget.entity.name,
                "label": budget.label,
                "amount": str(budget.amount),
                "created": created,
                "changes": changes,
            },
        )
    return budget


def budget_close(*, budget: Budget) -> Budget:
    """Close an open budget: it takes no new commitment (campaigns scheduled later draw on another budget
    of the entity, or none), what is left of it is released; commitments already made stay on it, and
    their actual cost when sent too."""
    _require(Action.BUDGET_MANAGE)
    scope = get_scope()
    with transaction.atomic():
        locked = Budget.objects.select_for_update().select_related("entity").get(pk=budget.pk)
        if not scope.covers_path(locked.entity.path):
            raise PermissionDenied
        if locked.closed_at:
            raise ValidationError(_("This budget is already closed."))
        locked.closed_at = timezone.now()
        locked.save(update_fields=["closed_at"])
        status = selectors.budget_status(locked)
        audit.record(
            action="budget.close",
            summary=f"{locked.entity.name} {locked.amount} closed",
            entity_id=locked.entity_id,
            data={
                "budget": locked.pk,
                "entity": locked.entity.name,
                "label": locked.label,
                "amount": str(locked.amount),
                "released": str(status.released),
            },
        )
    budget.closed_at = locked.closed_at
    return locked
