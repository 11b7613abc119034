"""Amounts are rounded to the cent and formatted per locale: "1 234,56 €" / "€1,234.56"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from glocal.core.money import format_money, format_percent, to_cents

NBSP = "\u00a0"


def test_to_cents_rounds_half_up_and_refuses_non_amounts() -> None:
    assert to_cents(Decimal("249.8200000000000000")) == Decimal("249.82")
    assert to_cents(Decimal("1.43000000000000")) == Decimal("1.43")
    assert to_cents(Decimal("0.005")) == Decimal("0.01")
    assert to_cents("12") == Decimal("12.00")
    assert to_cents(3) == Decimal("3.00")
    for nothing in (None, "", "abc", True, float("nan"), Decimal("Infinity")):
        assert to_cents(nothing) is None


@pytest.mark.parametrize(
    ("language", "value", "expected"),
    [
        ("fr", Decimal("249.8200000000000000"), f"249,82{NBSP}€"),
        ("fr", Decimal("1.43000000000000"), f"1,43{NBSP}€"),
        ("fr", Decimal("1234.5"), f"1{NBSP}234,50{NBSP}€"),
        ("fr", Decimal("1234567.891"), f"1{NBSP}234{NBSP}567,89{NBSP}€"),
        ("fr", Decimal("-12.5"), f"-12,50{NBSP}€"),
        ("fr", 0, f"0,00{NBSP}€"),
        ("en", Decimal("1234.56"), "€1,234.56"),
        ("en", Decimal("249.8200000000000000"), "€249.82"),
        ("en", Decimal("-12.5"), "-€12.50"),
        ("en", None, ""),
    ],
)
def test_format_money_per_locale(language: str, value: object, expected: str) -> None:
    with translation.override(language):
        assert format_money(value) == expected


def test_unit_price_keeps_up_to_four_decimals() -> None:
    with translation.override("fr"):
        assert format_money(Decimal("0.0450"), unit=True) == f"0,045{NBSP}€"
        assert format_money(Decimal("0.09"), unit=True) == f"0,09{NBSP}€"
        assert format_money(Decimal("0.12345"), unit=True) == f"0,1235{NBSP}€"
    with translation.override("en"):
        assert format_money(Decimal("0.045"), unit=True) == "€0.045"


def test_format_percent_per_locale() -> None:
    with translation.override("fr"):
        assert format_percent(Decimal("30.00")) == f"30{NBSP}%"
        assert format_percent(Decimal("12.5")) == f"12,5{NBSP}%"
    with translation.override("en"):
        assert format_percent(Decimal("30.00")) == "30%"
        assert format_percent(None) == ""


def test_money_and_percent_filters() -> None:
    template = Template('{% load money %}{{ a|money }} | {{ p|money:"unit" }} | {{ s|percent }}')
    context = Context({"a": Decimal("1234.5"), "p": Decimal("0.045"), "s": Decimal("25")})
    with translation.override("fr"):
        assert template.render(context) == f"1{NBSP}234,50{NBSP}€ | 0,045{NBSP}€ | 25{NBSP}%"
    with translation.override("en"):
        assert template.render(context) == "€1,234.50 | €0.045 | 25%"
