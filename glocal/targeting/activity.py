"""Lead capture, segments and prospect lists in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from glocal.core.activity import choice_label, details, field_names, labels, no_details
from glocal.core.models import AuditEvent

from .models import LeadCaptureSettings, LeadForm

# How a prospect list came to be purged (ProspectListPurge.reason).
PURGE_REASONS = {"manual": gettext_lazy("by hand"), "scheduled": gettext_lazy("after its campaign")}

labels(
    {
        "leads.settings": gettext_lazy("changed the lead capture settings"),
        "leads.create": gettext_lazy("made a store's kiosk and web form links"),
        "leads.regenerate": gettext_lazy("replaced a lead form's link"),
        "leads.submit": gettext_lazy("received a lead"),
        "leads.confirm": gettext_lazy("recorded a confirmed email opt-in"),
        "leads.confirm_sms": gettext_lazy("recorded an SMS opt-in confirmed by code"),
        "segment.policy": gettext_lazy("changed the segment guardrails"),
        "segment.save": gettext_lazy("saved a segment"),
        "segment.delete": gettext_lazy("deleted a segment"),
        "prospect_list.upload": gettext_lazy("uploaded a prospect list"),
        "prospect_list.purge": gettext_lazy("purged a prospect list"),
    }
)
no_details("leads.create")  # the store is the event's own entity


@details("leads.settings")
def _settings(event: AuditEvent) -> str | None:
    return field_names(LeadCaptureSettings, event.data["fields"]) if "fields" in event.data else None


@details("leads.regenerate")
def _regenerate(event: AuditEvent) -> str | None:
    return choice_label(LeadForm.Kind, event.data["kind"]) if "kind" in event.data else None


@details("leads.submit")
def _submit(event: AuditEvent) -> str | None:
    if "kind" not in event.data:
        return None
    values = {"form": choice_label(LeadForm.Kind, event.data["kind"]), "contact": event.data["contact"]}
    if event.data["created"]:
        return _("%(form)s: contact #%(contact)s (new)") % values
    return _("%(form)s: contact #%(contact)s") % values


@details("segment.policy")
def _policy(event: AuditEvent) -> str | None:
    if "fields" not in event.data:
        return None
    return ", ".join(
        [
            ngettext("%(n)s field", "%(n)s fields", event.data["fields"]) % {"n": event.data["fields"]},
            ngettext("%(n)s operator", "%(n)s operators", event.data["operators"])
            % {"n": event.data["operators"]},
            ngettext("at most %(n)s criterion", "at most %(n)s criteria", event.data["max"])
            % {"n": event.data["max"]},
        ]
    )


@details("segment.save")
def _segment(event: AuditEvent) -> str | None:
    return event.data.get("name")


@details("prospect_list.upload")
def _upload(event: AuditEvent) -> str | None:
    if "rows" not in event.data:
        return None
    return _("list #%(list)s: %(rows)s, %(excluded)s") % {
        "list": event.data["list"],
        "rows": ngettext("%(n)s person", "%(n)s people", event.data["rows"]) % {"n": event.data["rows"]},
        "excluded": ngettext("%(n)s excluded", "%(n)s excluded", event.data["excluded"])
        % {"n": event.data["excluded"]},
    }


@details("prospect_list.purge")
def _purge(event: AuditEvent) -> str | None:
    if "rows" not in event.data:
        return None
    return _("list #%(list)s: %(rows)s deleted (%(reason)s)") % {
        "list": event.data["list"],
        "rows": ngettext("%(n)s person", "%(n)s people", event.data["rows"]) % {"n": event.data["rows"]},
        "reason": PURGE_REASONS.get(event.data["reason"], event.data["reason"]),
    }
