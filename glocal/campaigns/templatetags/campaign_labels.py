"""``{{ code|state_label }}`` and ``{{ code|event_label }}``: a campaign's states and history events
by their names in the reader's language (a history line stores the codes)."""

from __future__ import annotations

from django import template

from glocal.campaigns import states

register = template.Library()


@register.filter
def state_label(code: str) -> str:
    return states.state_label(code) if code else ""


@register.filter
def event_label(code: str) -> str:
    return states.event_label(code) if code else ""
