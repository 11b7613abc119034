"""Campaigns' and operations' actions in the activity feed (glocal.core.activity); the first ones
are declared in ``CampaignsConfig.ready``.

The campaign's state changes are recorded as ``campaign.<event>`` (``glocal.campaigns.states.Event``):
each event has its label here, and their details show the states by their names."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.core.activity import choice_label, details, labels, no_details
from glocal.core.models import AuditEvent
from glocal.core.money import format_money

from .models import ApprovalPolicy, CalendarSlot
from .states import Event, state_label

labels(
    {
        "campaign.start_sending": gettext_lazy("started sending a campaign"),
        "campaign.finish_sending": gettext_lazy("finished sending a campaign"),
        "campaign.settings": gettext_lazy("changed the campaign settings"),
        "campaign.template_policy": gettext_lazy("set the approval of a template's local campaigns"),
        "operation.wave": gettext_lazy("added a wave to an operation"),
        "operation.defaults": gettext_lazy("set a wave's default content"),
        "calendar.slot": gettext_lazy("marked a period on the calendar"),
    }
)
no_details("campaign.settings")


@details(*(f"campaign.{event}" for event in Event))
def _transition(event: AuditEvent) -> str | None:
    if "to" not in event.data:
        return None
    return _("%(name)s: %(old)s → %(new)s") % {
        "name": event.data["name"],
        "old": state_label(event.data["from"]),
        "new": state_label(event.data["to"]),
    }


@details("campaign.template_policy")
def _policy(event: AuditEvent) -> str | None:
    if "policy" not in event.data:
        return None
    return _("%(template)s: %(policy)s") % {
        "template": event.data["template"],
        "policy": choice_label(ApprovalPolicy, event.data["policy"]),
    }


@details("operation.wave", "operation.defaults")
def _wave(event: AuditEvent) -> str | None:
    if "wave" not in event.data:
        return None
    return _("%(operation)s: %(wave)s") % {"operation": event.data["operation"], "wave": event.data["wave"]}


@details("calendar.slot")
def _slot(event: AuditEvent) -> str | None:
    if "kind" not in event.data:
        return None
    return _("%(name)s (%(kind)s)") % {
        "name": event.data["name"],
        "kind": choice_label(CalendarSlot.Kind, event.data["kind"]),
    }


@details("budget.save", "budget.close")
def _budget(event: AuditEvent) -> str | None:
    if "amount" not in event.data:
        return None
    return _("%(entity)s: %(amount)s") % {
        "entity": event.data["entity"],
        "amount": format_money(event.data["amount"]),
    }
