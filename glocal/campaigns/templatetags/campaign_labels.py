"""``{{ code|state_label }}`` and ``{{ code|event_label }}``: a campaign's states and history events
by their names in the reader's language (a history line stores the codes); ``{{ codes|channel_labels }}``:
channels ("email, sms", as a calendar item holds them) by their names."""

from __future__ import annotations

from django import template

from glocal.campaigns import states
from glocal.creatives.models import Channel

register = template.Library()


@register.filter
def state_label(code: str) -> str:
    return states.state_label(code) if code else ""


@register.filter
def event_label(code: str) -> str:
    return states.event_label(code) if code else ""


@register.filter
def channel_labels(codes: str) -> str:
    """Comma-separated channel codes → their names ("email, sms" → "E-mail, SMS")."""
    names = []
    for code in (part.strip() for part in (codes or "").split(",")):
        if code:
            names.append(str(Channel(code).label) if code in Channel.values else code)
    return ", ".join(names)
