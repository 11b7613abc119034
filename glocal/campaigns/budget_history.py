"""A budget's history as its page shows it: each change from the audit trail (``budget.save`` /
``budget.close`` events naming the budget) with who, when, and each field before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from glocal.core.models import AuditEvent
from glocal.core.money import format_money, format_percent

from .models import Budget

BUDGET_ACTIONS = ("budget.save", "budget.close")


@dataclass
class Change:
    field: str
    before: str
    after: str


@dataclass
class HistoryLine:
    at: dt.datetime
    who: str
    what: str
    changes: list[Change] = field(default_factory=list)


def _value(key: str, raw: Any) -> str:
    if raw in (None, ""):
        return "—"
    if key == "amount":
        return format_money(raw)
    if key == "coop_share":
        return format_percent(raw)
    if key in ("period_start", "period_end"):
        return date_format(dt.date.fromisoformat(raw), "SHORT_DATE_FORMAT")
    return str(raw)


def _label(key: str) -> str:
    if key == "entity":
        return _("Entity")
    model_field = Budget._meta.get_field(key)
    return str(getattr(model_field, "verbose_name", key)).capitalize()


def budget_history(budget: Budget) -> list[HistoryLine]:
    """Newest first."""
    events = AuditEvent.objects.filter(action__in=BUDGET_ACTIONS, data__budget=budget.pk).select_related(
        "actor"
    )
    lines = []
    for event in events:
        who = event.actor.full_name if event.actor else "—"
        if event.action == "budget.close":
            released = format_money(event.data.get("released", "0"))
            what = _("closed it (%(released)s released)") % {"released": released}
            lines.append(HistoryLine(event.created_at, who, what))
            continue
        created = event.data.get("created")
        changes = [
            Change(_label(key), "—" if created else _value(key, before), _value(key, after))
            for key, (before, after) in (event.data.get("changes") or {}).items()
        ]
        lines.append(
            HistoryLine(event.created_at, who, _("created it") if created else _("changed it"), changes)
        )
    return lines
