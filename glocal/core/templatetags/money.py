"""``{{ amount|money }}``: an amount in euros, rounded to the cent and formatted per locale
(glocal.core.money); ``{{ price|money:"unit" }}`` for a price per message (up to four decimals).
``{{ share|percent }}``: a percentage per locale ("30 %" in French, "30%" in English)."""

from __future__ import annotations

from typing import Any

from django import template

from glocal.core.money import format_money, format_percent

register = template.Library()


@register.filter(is_safe=True)
def money(value: Any, kind: str = "") -> str:
    return format_money(value, unit=kind == "unit")


@register.filter(is_safe=True)
def percent(value: Any) -> str:
    return format_percent(value)
