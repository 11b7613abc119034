"""The network's actions in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.core.activity import details, field_names, labels, role_label
from glocal.core.models import AuditEvent

from .models import Entity

labels(
    {
        "group.create": gettext_lazy("created a group of entities"),
        "group.update": gettext_lazy("changed a group of entities"),
        "network.local_fields": gettext_lazy("chose the fields stores may edit"),
        "network.custom_field": gettext_lazy("added a custom field"),
    }
)


@details("entity.update")
def _entity_update(event: AuditEvent) -> str | None:
    if "code" not in event.data:
        return None
    return _("%(code)s: %(fields)s") % {
        "code": event.data["code"],
        "fields": field_names(Entity, event.data["fields"]),
    }


@details("entity.move")
def _entity_move(event: AuditEvent) -> str | None:
    if "code" not in event.data:
        return None
    return _("%(code)s: %(old)s → %(new)s") % {
        "code": event.data["code"],
        "old": event.data["from"] or "—",
        "new": event.data["to"],
    }


@details("membership.grant")
def _membership_grant(event: AuditEvent) -> str | None:
    if "entity" not in event.data:
        return None
    return _("%(role)s, %(entity)s") % {
        "role": role_label(event.data["role"]),
        "entity": event.data["entity"],
    }


@details("membership.role")
def _membership_role(event: AuditEvent) -> str | None:
    if "to" not in event.data:
        return None
    return f"{role_label(event.data['from'])} → {role_label(event.data['to'])}"


@details("membership.deactivate")
def _membership_deactivate(event: AuditEvent) -> str | None:
    return role_label(event.data["role"]) if "role" in event.data else None


@details("network.local_fields")
def _local_fields(event: AuditEvent) -> str | None:
    return field_names(Entity, event.data["fields"]) or "—"
