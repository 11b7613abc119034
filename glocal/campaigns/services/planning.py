"""The calendar (slots) and budgets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.scope import get_scope
from glocal.network.models import Entity
from glocal.network.roles import Action

from ..models import Budget, CalendarSlot
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


def budget_save(*, fields: dict[str, Any], budget: Budget | None = None) -> Budget:
    _require(Action.BUDGET_MANAGE)
    scope = get_scope()
    entity = fields["entity"]
    if not scope.covers_path(entity.path):
        raise PermissionDenied
    budget = budget or Budget(organisation_id=scope.organisation_id)
    for key, value in fields.items():
        setattr(budget, key, value)
    budget.full_clean()
    if budget.period_end < budget.period_start:
        raise ValidationError({"period_end": _("The period ends before it starts.")})
    if not Decimal("0") <= budget.coop_share <= Decimal("100"):
        raise ValidationError({"coop_share": _("A share between 0 and 100 %.")})
    overlapping = Budget.objects.filter(
        entity=entity, period_start__lte=budget.period_end, period_end__gte=budget.period_start
    ).exclude(pk=budget.pk)
    if overlapping.exists():
        raise ValidationError(_("This entity already has a budget for an overlapping period."))
    budget.save()
    audit.record(
        action="budget.save",
        summary=f"{entity.name} {budget.amount}",
        entity_id=entity.pk,
        data={"entity": entity.name, "amount": str(budget.amount)},
    )
    return budget
