"""The activity feed's lines in the reader's language (glocal.core.activity):
``{{ event|activity_label }}`` and ``{{ event|activity_details }}``."""

from __future__ import annotations

from django import template

from glocal.core import activity
from glocal.core.models import AuditEvent

register = template.Library()


@register.filter
def activity_label(event: AuditEvent) -> str:
    return activity.label_of(event)


@register.filter
def activity_details(event: AuditEvent) -> str:
    return activity.details_of(event)
