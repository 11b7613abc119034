"""The contact import's row rules one by one: each cell's refusal, duplicates inside the file, matches
against stored contacts, and what a re-import changes (profile, tags, attributes, owner, consents)."""

import pytest

from glocal.audience import importer
from glocal.audience.models import (
    AttributeDefinition,
    ConsentEvent,
    Contact,
    OwnershipTransfer,
    Suppression,
)
from glocal.core.scope import activate
from glocal.core.uploads import save_upload


def run(network, persona, rows, mapping, *, dry_run=False):
    with activate(network.scope(persona)):
        name = save_upload(importer.csv_bytes(rows), suffix=".csv")
        plan = importer.Plan(source=name, filename="rows.csv", mapping=mapping, wording="w")
        return importer.import_contacts(plan, dry_run=dry_run)


def messages(report):
    return {e.row: e.messages for e in report.errors}


@pytest.fixture
def attributes(network):
    AttributeDefinition.unscoped.create(
        organisation=network.org, key="size", label="Size", field_type="number"
    )
    AttributeDefinition.unscoped.create(
        organisation=network.org, key="club", label="Club", field_type="choice", choices=["gold", "silver"]
    )


@pytest.mark.django_db
def test_each_cell_refusal_names_its_column(network, attributes):
    mapping = ["email", "mobile", "country", "kind", "consent_sms", "attr:size", "attr:club", "city", "owner"]
    rows = [
        ["email", "mobile", "country", "kind", "sms", "size", "club", "city", "owner"],
        ["a@example.test", "", "FRA", "", "", "", "", "", ""],  # 2
        ["b@example.test", "", "", "alien", "", "", "", "", ""],  # 3
        ["c@example.test", "", "", "", "perhaps", "", "", "", ""],  # 4
        ["d@example.test", "", "", "", "", "big", "", "", ""],  # 5
        ["e@example.test", "", "", "", "", "", "bronze", "", ""],  # 6
        ["f@example.test", "", "", "", "", "", "", "x" * 101, ""],  # 7
        ["g@example.test", "", "", "", "", "", "", "", "S-B"],  # 8 fine for HQ
        ["", "0612345678", "be", "", "", "", "", "", ""],  # 9 a French number read as Belgian
        ["", "", "", "", "", "12", "", "", ""],  # 10 neither email nor mobile
        ["   ", " ", "", "", "", "", "", "", ""],  # spaces only: a blank line, not a row
        ["h@example.test", "", "", "client", "OUI", "1,5", "gold", "Lille", "S-A"],  # 12 fine
    ]
    report = run(network, "hq_admin", rows, mapping, dry_run=True)
    assert messages(report) == {
        2: ["country: use a two-letter code (FR, BE…)."],
        3: ["kind: “alien” is neither customer nor prospect."],
        4: ["SMS consent: “perhaps” is not a consent (opt_in, soft_opt_in, b2b, opt_out)."],
        5: ["Size: “big” is not a number."],
        6: ["Club: “bronze” is not one of: gold, silver"],
        7: ["City: at most 100 characters."],
        9: ["Mobile: “0612345678” is not a valid mobile number."],
        10: ["Each row needs an email address or a mobile number."],
    }
    assert report.total_rows == 10 and Contact.unscoped.count() == 0


@pytest.mark.django_db
def test_clean_row_values(network, attributes):
    with activate(network.scope("hq_admin")):
        ctx = importer._context(importer.Plan(source="", filename="", mapping=[]))
    values, errors = importer.clean_row(
        {
            "email": " H@Example.TEST ",
            "mobile": "0612345678",
            "country": "",
            "birth_date": "02/03/1975",
            "kind": "Client",
            "tags": "b; A",
            "owner": "S-A",
            "consent_email": "Soft",
            "consent_postal": "",
            "attr:size": "1,5",
            "attr:club": "gold",
            "first_name": "Hélène",
        },
        ctx,
    )
    assert errors == []
    assert values == {
        "email": "h@example.test",
        "mobile": "+33612345678",
        "birth_date": values["birth_date"],
        "kind": "customer",
        "tags": "|a|b|",
        "owner": (network.store_a.pk, network.store_a.path),
        "consent_email": "soft_opt_in",
        "attributes": {"size": 1.5, "club": "gold"},
        "first_name": "Hélène",
    }
    assert values["birth_date"].isoformat() == "1975-03-02"
    values, errors = importer.clean_row({"email": "x@example.test", "birth_date": "1975-13-01"}, ctx)
    assert errors == ["birth date: “1975-13-01” is not a date (YYYY-MM-DD)."] and "birth_date" not in values
    values, errors = importer.clean_row({"email": "nope", "owner": "ZZZ"}, ctx)
    assert errors == ["Email: “nope” is not a valid email address.", "owner: unknown store “ZZZ”."]
    assert values == {}


@pytest.mark.django_db
def test_duplicates_inside_the_file_and_matches_against_stored_contacts(network):
    mapping = ["email", "mobile", "birth_date"]
    run(network, "hq_admin", [["e", "m", "b"], ["p@example.test", "", ""], ["", "0611111111", ""]], mapping)
    rows = [
        ["e", "m", "b"],
        ["p@example.test", "0611111111", ""],  # 2: email and mobile of two different contacts
        ["n@example.test", "0622222222", ""],  # 3
        ["N@example.test", "", ""],  # 4: same email as row 3
        ["", "06 22 22 22 22", ""],  # 5: same mobile as row 3
        ["q@example.test", "0622222222", "bad"],  # 6: same mobile as row 3, and a bad date
        ["p@example.test", "", ""],  # 7: the stored contact p; row 2's email (refused rows count too)
        ["", "+33611111111", ""],  # 8: another stored contact; row 2's mobile
        ["P@example.test", "", ""],  # 9: same email as row 2 and same person as row 7
    ]
    report = run(network, "hq_admin", rows, mapping)
    assert messages(report) == {
        2: ["the email address and the mobile number belong to two different contacts."],
        4: ["duplicate in the file: same email as row 3."],
        5: ["duplicate in the file: same mobile as row 3."],
        6: [
            "birth date: “bad” is not a date (YYYY-MM-DD).",
            "duplicate in the file: same mobile as row 3.",
        ],
        7: ["duplicate in the file: same email as row 2."],
        8: ["duplicate in the file: same mobile as row 2."],
        9: [
            "duplicate in the file: same email as row 2.",
            "duplicate in the file: same person as row 7.",
        ],
    }
    assert [e.row for e in report.errors] == [2, 4, 5, 6, 7, 8, 9]
    assert Contact.unscoped.count() == 2


@pytest.mark.django_db
def test_mapping_refusals(network):
    rows = [["a", "b"], ["x@example.test", "y"]]
    assert run(network, "hq_admin", rows, ["email", "nope"]).file_errors == [
        "Unknown fields in the mapping: nope"
    ]
    assert run(network, "hq_admin", rows, ["email", "email"]).file_errors == [
        "Each field may be mapped from one column only."
    ]
    assert run(network, "hq_admin", rows, ["city", ""]).file_errors == [
        "Map a column to the email address or to the mobile number."
    ]
    assert run(network, "hq_admin", [], ["email"]).file_errors == ["The file is empty."]


@pytest.mark.django_db
def test_reimport_updates_profile_tags_attributes_owner_and_consents(network, attributes):
    mapping = ["email", "mobile", "first_name", "tags", "attr:size", "owner", "consent_email", "consent_sms"]
    header = ["e", "m", "f", "t", "s", "o", "ce", "cs"]
    first = run(
        network,
        "hq_admin",
        [
            header,
            ["u@example.test", "0633333333", "Ursula", "vip", "3", "S-A", "opt_out", ""],
            ["v@example.test", "", "Victor", "", "", "S-A", "", ""],
            ["w@example.test", "", "Wanda", "", "", "S-A", "", ""],
        ],
        mapping,
    )
    assert first.ok and (first.created, first.consents) == (3, 1)
    assert Suppression.unscoped.filter(channel="email").count() == 1
    u = Contact.unscoped.get(email="u@example.test")
    transfers = OwnershipTransfer.unscoped.count()
    assert transfers == 3

    second = run(
        network,
        "hq_admin",
        [
            header,
            # the objection stays (an import never lifts it); the rest is updated
            ["u@example.test", "0644444444", "Ursula", "wine", "4", "S-B", "opt_in", "opt_in"],
            ["v@example.test", "", "Victor", "", "", "S-A", "", ""],  # identical: unchanged
            ["w@example.test", "", "", "", "", "", "", "opt_out"],  # a consent only
        ],
        mapping,
    )
    assert second.ok, second.as_dict()
    assert (second.created, second.updated, second.unchanged) == (0, 2, 1)
    assert (second.consents, second.consent_refused) == (2, 1)
    u.refresh_from_db()
    assert (u.mobile, u.tags, u.attributes) == ("+33644444444", "|vip|wine|", {"size": 4.0})
    assert u.owner_id == network.store_b.pk and u.owner_path == network.store_b.path
    assert (u.consent_email, u.consent_sms) == ("opt_out", "opt_in")
    assert u.mobile_hash and u.mobile_hash != Contact.unscoped.get(email="w@example.test").mobile_hash
    w = Contact.unscoped.get(email="w@example.test")
    assert (w.first_name, w.consent_sms) == ("Wanda", "opt_out")
    move = OwnershipTransfer.unscoped.get(contact=u, reason="import")
    assert (move.from_entity_id, move.to_entity_id) == (network.store_a.pk, network.store_b.pk)
    assert OwnershipTransfer.unscoped.count() == transfers + 1
    assert ConsentEvent.unscoped.count() == 3
    assert Suppression.unscoped.count() == 1  # w has no mobile: nothing to put on the list for SMS

    third = run(
        network,
        "hq_admin",
        [header, ["u@example.test", "", "", "", "", "", "", "opt_out"]],
        mapping,
    )
    assert (third.updated, third.consents) == (1, 1)
    assert Suppression.unscoped.filter(channel="sms").count() == 1
