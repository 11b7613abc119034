"""``{{ purge.reason|purge_reason }}``: how a prospect list came to be purged, in the reader's language
(the row stores a code)."""

from __future__ import annotations

from django import template

from glocal.targeting.activity import PURGE_REASONS

register = template.Library()


@register.filter
def purge_reason(code: str) -> str:
    return str(PURGE_REASONS.get(code, code))
