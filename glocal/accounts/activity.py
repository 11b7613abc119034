"""People's actions in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.core.activity import details, field_names, labels, role_label
from glocal.core.models import AuditEvent

labels({"user.profile": gettext_lazy("updated their profile")})


@details("invitation.create")
def _invite(event: AuditEvent) -> str | None:
    if "role" not in event.data:
        return None
    return _("%(email)s → %(role)s, %(entity)s") % {
        "email": event.data["email"],
        "role": role_label(event.data["role"]),
        "entity": event.data["entity"],
    }


@details("invitation.accept")
def _accept(event: AuditEvent) -> str | None:
    if "role" not in event.data:
        return None
    return f"{event.data['email']} → {role_label(event.data['role'])}"


@details("user.profile")
def _profile(event: AuditEvent) -> str | None:
    return field_names(get_user_model(), event.data["fields"]) if "fields" in event.data else None
