"""Network import validation, rule by rule: the exact messages of each row and file refusal, and the
clean values handed to the write pass."""

import csv
import io
from decimal import Decimal

import pytest

from glocal.core.scope import activate
from glocal.network.importer import validate
from glocal.network.models import CustomFieldDefinition


def to_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def check(network, persona, data):
    with activate(network.scope(persona)):
        report, clean = validate(data)
    return {e.row: (e.code, e.messages) for e in report.errors}, report, clean


@pytest.fixture
def custom_fields(network):
    CustomFieldDefinition.unscoped.create(
        organisation=network.org, key="surface", label="Surface", field_type="number"
    )
    CustomFieldDefinition.unscoped.create(
        organisation=network.org, key="opened", label="Opened", field_type="date"
    )


@pytest.mark.django_db
def test_every_row_rule_and_its_message(network, custom_fields):
    header = [
        "code",
        "parent_code",
        "type",
        "name",
        "country",
        "phone",
        "custom:surface",
        "custom:opened",
        "x",
    ]
    rows = [
        ["S-N1", "R-N", "store", "New 1", "be", "02 555 12 12", "120,5", "2020-01-02", "@n1"],  # 2 fine
        ["S-N2", "", "store", "No parent", "", "", "", "", ""],  # 3
        ["S-N3", "NOPE", "store", "Lost", "", "", "", "", ""],  # 4
        ["HQ", "R-N", "hq", "Moved head office", "", "", "", "", ""],  # 5
        ["R-N", "S-A", "region", "Under its own store", "", "", "", "", ""],  # 6
        ["S-N1", "R-N", "store", "Twice", "", "", "", "", ""],  # 7
        ["S-N4", "R-N", "rocket", "", "FRA", "12", "big", "soon", ""],  # 8 many problems
        ["S-N5", "S-N6", "store", "Loop", "", "", "", "", ""],  # 9
        ["S-N6", "S-N5", "store", "Loop", "", "", "", "", ""],  # 10
        ["HQ", "", "hq", "Maison Test", "", "", "", "", ""],  # 11 the head office again
        ["S-N7", "S-N1", "store", "Under a new row", "", "", "", "", ""],  # 12 fine
    ]
    errors, report, clean = check(network, "hq_admin", to_csv(header, rows))
    assert errors == {
        3: ("S-N2", ["parent_code: required."]),
        4: ("S-N3", ["parent_code: no entity “NOPE” in your network or in this file."]),
        5: ("HQ", ["The head office cannot be moved."]),
        6: ("R-N", ["parent_code: “S-A” would make a cycle."]),
        7: ("S-N1", ["code: “S-N1” already appears on row 2."]),
        8: (
            "S-N4",
            [
                "name: This field is required.",
                "country: Use a two-letter country code (FR, BE…).",
                "phone: “12” is not a phone number.",
                "type: unknown entity type “rocket”.",
                "custom:opened: “soon” is not a date (YYYY-MM-DD).",
                "custom:surface: “big” is not a number.",
            ],
        ),
        9: ("S-N5", ["parent_code: “S-N6” would make a cycle."]),
        10: ("S-N6", ["parent_code: “S-N5” would make a cycle."]),
        11: ("HQ", ["code: “HQ” already appears on row 5."]),
    }
    assert [e.row for e in report.errors] == sorted(errors)
    assert report.total_rows == 11
    by_row = dict(clean)
    assert sorted(by_row) == [2, 3, 4, 5, 6, 9, 10, 12]
    first = by_row[2]
    assert first["phone"] == "+3225551212" and first["country"] == "be"
    assert first["custom"] == {"surface": 120.5, "opened": "2020-01-02"}
    assert first["social_links"] == {"x": "@n1"}
    assert first["_present"] == set(header)
    assert first["latitude"] is None and first["catchment_postcodes"] == []
    assert by_row[12]["_present"] == {"code", "parent_code", "type", "name"}


@pytest.mark.django_db
def test_the_head_office_needs_no_parent(network):
    errors, _report, clean = check(
        network, "hq_admin", to_csv(["code", "type", "name"], [["HQ", "hq", "Maison"]])
    )
    assert errors == {} and [n for n, _v in clean] == [2]


@pytest.mark.django_db
def test_codes_outside_the_importers_subtree(network):
    header = ["code", "parent_code", "type", "name", "latitude"]
    rows = [
        ["S-B", "R-N", "store", "Not mine", ""],  # 2
        ["S-A", "R-N", "store", "Mine", "50.6"],  # 3
        ["S-Z", "S-B", "store", "Under a foreign store", "95"],  # 4
    ]
    errors, _report, clean = check(network, "regional", to_csv(header, rows))
    assert errors == {
        2: ("S-B", ["code: “S-B” is used by an entity you cannot manage."]),
        4: ("S-Z", ["latitude: Ensure this value is less than or equal to 90."]),
    }
    assert [(n, v["latitude"]) for n, v in clean] == [(3, Decimal("50.6"))]


@pytest.mark.django_db
def test_file_refusals(network, custom_fields):
    _e, report, clean = check(network, "hq_admin", b"code,name\nA,B\n")
    assert report.file_errors == ["Missing columns: type"] and clean == []
    _e, report, clean = check(
        network, "hq_admin", b"code,name,type,custom:nope,custom:surface\nA,B,store,,\n"
    )
    assert report.file_errors == ["Unknown custom fields: custom:nope"] and clean == []
    _e, report, clean = check(network, "hq_admin", b"")
    assert report.file_errors and clean == []
