"""Price and date zones are written in the reader's language, in every channel; the stored value stays
reachable as ``zones.<key>_raw`` (pure: no database)."""

from __future__ import annotations

import pytest
from django.utils import translation

from glocal.creatives import rendering, zones

ZONES, _errors = zones.parse_zones(
    [
        {"key": "headline", "type": "short_text"},
        {"key": "amount", "type": "price"},
        {"key": "until", "type": "date"},
    ]
)
VALUES = {"headline": "Soldes", "amount": "9.9", "until": "2027-04-30"}
STORE = {"name": "Magasin A", "full_address": "1 rue X, 59000 Lille", "hours_text": "", "city": "Lille"}
NBSP = "\u00a0"
MJML = (
    "<mjml><mj-body><mj-section><mj-column>"
    "<mj-text>{{ zones.amount }} / {{ zones.until }} / {{ zones.amount_raw }}</mj-text>"
    "</mj-column></mj-section></mj-body></mjml>"
)


def variant(channel: str, source: str, language: str, **extra: object) -> rendering.Variant:
    return rendering.Variant(
        channel=channel,
        source=source,
        zones=ZONES,
        values=zones.resolve(ZONES, VALUES),
        store=STORE,
        language=language,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("language", "amount", "day"),
    [("fr", f"9,90{NBSP}€", "30 avril 2027"), ("en", "€9.90", "30 April 2027")],
)
def test_sms_writes_prices_and_dates_in_the_variant_language(language, amount, day):
    source = "{{ zones.amount }} jusqu'au {{ zones.until }} ({{ zones.amount_raw }}, {{ zones.until_raw }})"
    with translation.override("en" if language == "fr" else "fr"):  # the process's language is ignored
        result = rendering.render_variant(variant("sms", source, language), {}, {})
    assert result.errors == []
    assert result.text == f"{amount} jusqu'au {day} (9.90, 2027-04-30)"


@pytest.mark.parametrize(
    ("language", "shown"),
    [("fr", f"9,90{NBSP}€ / 30 avril 2027 / 9.90"), ("en", "€9.90 / 30 April 2027 / 9.90")],
)
def test_email_html_subject_and_text_are_formatted(language, shown):
    rendering.clear_caches()
    built = variant(
        "email", MJML, language, subject="{{ zones.amount }} — {{ zones.until }}", text="{{ zones.amount }}"
    )
    result = rendering.render_variant(built, {}, {})
    assert result.errors == []
    assert shown.replace(NBSP, "&nbsp;") in result.html or shown in result.html
    subject = shown.rsplit(" / ", 1)[0].replace(" / ", " — ")
    assert result.subject == " ".join(subject.split())  # a subject's spaces are folded (no-break too)
    assert result.text == shown.split(" / ")[0]


def test_the_raw_value_allows_arithmetic():
    source = "{{ (zones.amount_raw|float * 2)|price }}"
    result = rendering.render_variant(variant("sms", source, "fr"), {}, {})
    assert result.text == f"19,80{NBSP}€"


def test_price_filter_matches_the_zone_and_leaves_formatted_values_alone():
    with translation.override("fr"):
        assert rendering.price("1234.5") == f"1{NBSP}234,50{NBSP}€"
        assert rendering.price("9.9", "USD") == f"9,90{NBSP}$"
        assert rendering.price(rendering.price("9.9")) == f"9,90{NBSP}€"  # already formatted: unchanged
        assert rendering.price("gratuit") == "gratuit"
    with translation.override("en"):
        assert rendering.price("1234.5") == "€1,234.50"
        assert rendering.price("9.9", "£") == "£9.90"
        assert rendering.price("-3") == "-€3.00"


def test_empty_zones_print_nothing_and_a_zone_named_raw_keeps_its_value():
    defs, errors = zones.parse_zones(
        [{"key": "amount", "type": "price"}, {"key": "amount_raw", "type": "short_text"}]
    )
    assert errors == []
    with translation.override("fr"):
        context = rendering.zone_context(defs, {"amount": "5", "amount_raw": "mine"}, html=False)
        empty = rendering.zone_context(defs, {"amount": "", "amount_raw": ""}, html=False)
    assert context == {"amount": f"5,00{NBSP}€", "amount_raw": "mine"}
    assert empty == {"amount": "", "amount_raw": ""}


def test_the_organisation_currency_is_used_when_it_has_one():
    built = variant("sms", "{{ zones.amount }}", "en", organisation={"currency": "GBP"})
    assert rendering.render_variant(built, {}, {}).text == "£9.90"
