"""Reporting's actions in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.core.activity import choice_label, details, labels
from glocal.core.models import AuditEvent

from .models import Touch

labels({"reporting.settings": gettext_lazy("changed the attribution rules")})


@details("reporting.settings")
def _settings(event: AuditEvent) -> str | None:
    if "window_days" not in event.data:
        return None
    return _("%(days)s-day window, %(touch)s") % {
        "days": event.data["window_days"],
        "touch": str(choice_label(Touch, event.data["touch"])).split(":")[0].strip().lower(),
    }
