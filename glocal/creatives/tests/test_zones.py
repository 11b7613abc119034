"""Zone rules: pure functions over plain data, no database."""

from __future__ import annotations

from glocal.creatives import zones

DEFS = [
    {"key": "headline", "type": "short_text", "label": "Headline", "max_length": 60, "required": True},
    {"key": "body", "type": "rich_text", "max_length": 500},
    {"key": "offer", "type": "choice", "choices": ["-10 %", "-20 %"]},
    {"key": "legal", "type": "short_text", "locked": True, "default": "Dans la limite des stocks."},
    {"key": "starts", "type": "date"},
    {"key": "price", "type": "price", "max": 500},
    {"key": "code", "type": "offer_code"},
    {"key": "hero", "type": "image", "tag": "summer"},
    {"key": "manager_note", "type": "short_text", "roles": ["local_manager"]},
]


def parsed() -> list[zones.Zone]:
    defs, errors = zones.parse_zones(DEFS)
    assert errors == []
    return defs


def codes(findings):
    return [(f.code, f.where) for f in findings]


def test_valid_values_are_cleaned():
    clean, errors = zones.validate_values(
        parsed(),
        {
            "headline": "  Les soldes  ",
            "offer": "-20 %",
            "starts": "2026-12-01",
            "price": "19,9",
            "code": "NOEL-26",
            "hero": "42",
        },
        "local_manager",
    )
    assert errors == []
    assert clean == {
        "headline": "Les soldes",
        "offer": "-20 %",
        "starts": "2026-12-01",
        "price": "19.90",
        "code": "NOEL-26",
        "hero": "42",
    }


def test_locked_zone_write_is_refused():
    clean, errors = zones.validate_values(parsed(), {"headline": "Ok", "legal": "Rien"}, "hq_admin")
    assert codes(errors) == [("locked_zone", "legal")]
    assert "locked" in errors[0].text


def test_unknown_key_is_refused():
    _clean, errors = zones.validate_values(parsed(), {"headline": "Ok", "footer": "x"}, "local_manager")
    assert codes(errors) == [("unknown_zone", "footer")]


def test_too_long_is_refused_with_the_limit_in_the_message():
    _clean, errors = zones.validate_values(parsed(), {"headline": "x" * 61}, "local_manager")
    assert codes(errors) == [("too_long", "headline")]
    assert "60" in errors[0].text and "61" in errors[0].text


def test_wrong_choice_bad_price_bad_date_bad_code():
    _clean, errors = zones.validate_values(
        parsed(),
        {
            "headline": "Ok",
            "offer": "-90 %",
            "price": "abc",
            "starts": "31/12/2026",
            "code": "NO EL<script>",
            "hero": "javascript:alert(1)",
        },
        "local_manager",
    )
    assert sorted(codes(errors)) == sorted(
        [
            ("bad_choice", "offer"),
            ("bad_price", "price"),
            ("bad_date", "starts"),
            ("bad_offer_code", "code"),
            ("bad_image", "hero"),
        ]
    )
    _clean, errors = zones.validate_values(parsed(), {"headline": "Ok", "price": "600"}, "local_manager")
    assert codes(errors) == [("price_out_of_range", "price")]
    _clean, errors = zones.validate_values(parsed(), {"headline": "Ok", "price": "-1"}, "local_manager")
    assert codes(errors) == [("bad_price", "price")]
    _clean, errors = zones.validate_values(
        parsed(), {"headline": "Ok", "starts": "2026-02-30"}, "local_manager"
    )
    assert codes(errors) == [("bad_date", "starts")]


def test_required_and_roles():
    _clean, errors = zones.validate_values(parsed(), {"headline": "  "}, "local_manager")
    assert codes(errors) == [("required", "headline")]
    _clean, errors = zones.validate_values(parsed(), {"headline": "Ok", "manager_note": "x"}, "local_staff")
    assert codes(errors) == [("zone_not_editable", "manager_note")]
    assert [z.key for z in zones.editable_zones(parsed(), "local_staff")] == [
        "headline",
        "body",
        "offer",
        "starts",
        "price",
        "code",
        "hero",
    ]


def test_non_text_values_are_refused():
    _clean, errors = zones.validate_values(parsed(), {"headline": ["a"], "offer": {"x": 1}}, "local_manager")
    assert sorted(codes(errors)) == [("bad_value", "headline"), ("bad_value", "offer")]
    _clean, errors = zones.validate_values(parsed(), "not a dict", "local_manager")  # type: ignore[arg-type]
    assert codes(errors) == [("bad_values", "zones")]


def test_rich_text_is_sanitised():
    html = (
        '<p onclick="x()">Hello <script>alert(1)</script><strong>world</strong>'
        '<a href="javascript:alert(1)">bad</a> <a href="https://ok.example/">ok</a>'
        '<img src=x onerror=alert(1)><style>p{}</style><a href="data:text/html,x">d</a></p>'
    )
    clean, errors = zones.validate_values(parsed(), {"headline": "Ok", "body": html}, "local_manager")
    assert errors == []
    body = clean["body"]
    for bad in ("script", "onclick", "javascript:", "onerror", "<img", "<style", "data:"):
        assert bad not in body
    assert "<strong>world</strong>" in body
    assert 'href="https://ok.example/"' in body and 'rel="noopener noreferrer"' in body


def test_rich_text_limit_counts_visible_text():
    _clean, errors = zones.validate_values(
        parsed(), {"headline": "Ok", "body": "<p>" + "x" * 501 + "</p>"}, "local_manager"
    )
    assert codes(errors) == [("too_long", "body")]


def test_resolve_keeps_locked_defaults_and_drops_invalid_stored_values():
    values = zones.resolve(parsed(), {"legal": "forged", "headline": "x" * 100, "offer": "-10 %"})
    assert values["legal"] == "Dans la limite des stocks."
    assert values["headline"] == ""  # invalid stored value: back to the (empty) default
    assert values["offer"] == "-10 %"


def test_definition_errors_are_plain():
    bad = [
        {"key": "Bad Key", "type": "short_text"},
        {"key": "a", "type": "video"},
        {"key": "b", "type": "short_text", "max_length": 100000},
        {"key": "c", "type": "choice"},
        {"key": "d", "type": "short_text", "colour": "red"},
        {"key": "e", "type": "short_text", "roles": ["king"]},
        {"key": "f", "type": "short_text", "locked": True, "required": True},
        {"key": "g", "type": "short_text", "max_length": 5, "default": "too long"},
        {"key": "h", "type": "short_text"},
        {"key": "h", "type": "short_text"},
        "not an object",
    ]
    defs, errors = zones.parse_zones(bad)
    assert [z.key for z in defs] == ["h"]
    assert [e.code for e in errors] == [
        "zone_bad_key",
        "zone_bad_type",
        "zone_bad_max_length",
        "zone_bad_choices",
        "zone_unknown_attribute",
        "zone_bad_roles",
        "zone_locked_empty",
        "zone_bad_default",
        "zone_duplicate",
        "zone_not_object",
    ]
    assert all(e.text for e in errors)
    assert zones.parse_zones({"key": "x"})[1][0].code == "zones_not_list"


def test_zone_round_trips_to_dict():
    for zone in parsed():
        again, errors = zones.parse_zones([zone.as_dict()])
        assert errors == [] and again == [zone]
