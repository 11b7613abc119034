"""Amounts of money as people read them: Decimal quantised to the cent, grouped and placed per locale
("1 234,56 €" in French, "€1,234.56" in English).

Glocal's amounts are euros held as ``Decimal`` (budgets, costs, ledger entries); a computed cost may
carry many digits (a per-message price × a count), so every display goes through :func:`format_money`
— in templates, ``{% load money %}{{ amount|money }}``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import pgettext

CENT = Decimal("0.01")


def to_cents(value: Any) -> Decimal | None:
    """``value`` as a Decimal rounded half-up to the cent; None when it is no amount."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not amount.is_finite():
        return None
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


UNIT_PLACES = 4  # a unit price (an SMS segment: 0,045 €) keeps up to four decimals


def format_money(value: Any, *, unit: bool = False) -> str:
    """``value`` in euros for the active language: "1 234,56 €" (French), "€1,234.56" (English).
    ``unit``: a price per message, shown with two to four decimals (0,045 €) rather than rounded to
    the cent. Not an amount (None, text): the empty string."""
    amount = to_cents(value)
    if amount is None:
        return ""
    places = 2
    if unit:
        exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-UNIT_PLACES), rounding=ROUND_HALF_UP)
        exponent = exact.normalize().as_tuple().exponent
        places = max(2, -exponent) if exact and isinstance(exponent, int) else 2
        amount = exact
    digits = number_format(abs(amount), decimal_pos=places, use_l10n=True, force_grouping=True)
    # Translators: where the euro sign goes around an amount; French: "%(amount)s\u00a0€".
    text = pgettext("money", "€%(amount)s") % {"amount": digits}
    return f"-{text}" if amount < 0 else text


def format_percent(value: Any) -> str:
    """A percentage for the active language ("12,5 %" in French, "12.5%" in English); trailing zeros
    dropped (30.00 → 30)."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not number.is_finite():
        return ""
    number = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    exponent = number.as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    digits = number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)
    # Translators: a percentage; French: "%(value)s\u00a0%%".
    return pgettext("percent", "%(value)s%%") % {"value": digits}
