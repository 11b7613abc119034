"""``{{ "code,name,type"|code_list }}``: things the user types as they are (column names, codes),
each as ``<code>``, comma-separated — for help texts that quote a file's format."""

from __future__ import annotations

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def code_list(value: str) -> SafeString:
    items = [item.strip() for item in value.split(",") if item.strip()]
    return format_html_join(", ", "<code>{}</code>", ((item,) for item in items))
