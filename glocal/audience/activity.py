"""Customers' actions in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from glocal.core.activity import choice_label, details, field_names, labels
from glocal.core.models import AuditEvent

from .models import AudienceSettings, Channel, Contact

labels(
    {
        "audience.attribute": gettext_lazy("added a customer attribute"),
        "audience.settings": gettext_lazy("changed the customer settings"),
        "contact.create": gettext_lazy("added a customer"),
        "contact.update": gettext_lazy("edited a customer"),
        "contact.assign": gettext_lazy("assigned a customer to another store"),
        "contact.export": gettext_lazy("exported a customer's data"),
        "contact.erase": gettext_lazy("erased a customer"),
        "contact.retention": gettext_lazy("deleted an inactive customer (retention period)"),
        "contact.import": gettext_lazy("imported customers"),
        "consent.lift": gettext_lazy("recorded a person's own opt-in after their objection"),
    }
)


@details("audience.settings")
def _settings(event: AuditEvent) -> str | None:
    return field_names(AudienceSettings, event.data["fields"]) if "fields" in event.data else None


@details("contact.update")
def _update(event: AuditEvent) -> str | None:
    if "fields" not in event.data:
        return None
    fields = field_names(Contact, event.data["fields"])
    if "contact" in event.data:
        return _("contact #%(contact)s: %(fields)s") % {"contact": event.data["contact"], "fields": fields}
    return fields


@details("consent.lift")
def _lift(event: AuditEvent) -> str | None:
    return choice_label(Channel, event.data["channel"]) if "channel" in event.data else None


@details("contact.import")
def _import(event: AuditEvent) -> str | None:
    if "created" not in event.data:
        return None
    counts = ", ".join(
        [
            ngettext("%(n)s created", "%(n)s created", event.data["created"]) % {"n": event.data["created"]},
            ngettext("%(n)s updated", "%(n)s updated", event.data["updated"]) % {"n": event.data["updated"]},
        ]
    )
    if event.data.get("file"):
        return _("%(file)s: %(counts)s") % {"file": event.data["file"], "counts": counts}
    return counts
