import datetime
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from glocal.audience import importer, selectors, services
from glocal.audience.models import AudienceSettings, ConsentEvent, Contact, OwnershipTransfer
from glocal.core import jobs
from glocal.core.models import Job
from glocal.core.scope import activate
from glocal.core.uploads import save_upload

HEADER = ["E-mail", "Prénom", "Nom", "Portable", "Magasin", "Date de naissance", "Optin email", "Tags"]
GOOD = [
    ["anne@example.test", "Anne", "Durand", "06 12 34 56 78", "S-A", "1980-02-01", "oui", "vip"],
    ["bruno@example.test", "Bruno", "Martin", "", "S-B", "02/03/1975", "non", ""],
    ["", "Chloé", "Petit", "+33 6 98 76 54 32", "", "", "", "wine; vip"],
]


def run(network, persona, rows, *, dry_run=False, filename="contacts.csv", wording="Offres par email"):
    data = importer.csv_bytes(rows)
    with activate(network.scope(persona)):
        name = save_upload(data, suffix=".csv")
        header = importer.read_header(name, filename)
        mapping = importer.guess_mapping(header, [])
        plan = importer.Plan(source=name, filename=filename, mapping=mapping, wording=wording)
        return importer.import_contacts(plan, dry_run=dry_run)


def test_guess_mapping_understands_french_and_english_headers():
    assert importer.guess_mapping(HEADER, []) == [
        "email",
        "first_name",
        "last_name",
        "mobile",
        "owner",
        "birth_date",
        "consent_email",
        "tags",
    ]
    assert importer.guess_mapping(["Email", "mail", "Whatever"], []) == ["email", "", ""]


@pytest.mark.django_db
def test_hq_import_then_same_file_again_changes_nothing(network):
    report = run(network, "hq_admin", [HEADER, *GOOD])
    assert report.ok, report.as_dict()
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    anne = Contact.unscoped.get(email="anne@example.test")
    assert anne.owner_id == network.store_a.pk and anne.mobile == "+33612345678"
    assert anne.birth_date.isoformat() == "1980-02-01" and anne.tags == "|vip|"
    assert anne.consent_email == "opt_in"
    event = ConsentEvent.unscoped.get(contact=anne)
    assert (event.source, event.wording, event.form_version) == ("import", "Offres par email", "contacts.csv")
    chloe = Contact.unscoped.get(mobile="+33698765432")
    assert chloe.owner_id == network.hq.pk and chloe.tags == "|vip|wine|"
    assert Contact.unscoped.get(email="bruno@example.test").consent_email == "opt_out"
    ledger, transfers = ConsentEvent.unscoped.count(), OwnershipTransfer.unscoped.count()

    again = run(network, "hq_admin", [HEADER, *GOOD])
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (ConsentEvent.unscoped.count(), OwnershipTransfer.unscoped.count()) == (ledger, transfers)


@pytest.mark.django_db
def test_bad_rows_are_all_reported_and_nothing_is_written(network):
    rows = [
        HEADER,
        GOOD[0],
        ["not-an-email", "X", "Y", "", "S-A", "", "", ""],  # 3
        ["x@example.test", "X", "Y", "123", "S-A", "", "", ""],  # 4 bad phone
        ["y@example.test", "X", "Y", "", "NOPE", "", "", ""],  # 5 unknown store
        ["z@example.test", "X", "Y", "", "S-A", "31/02/1990", "", ""],  # 6 bad date
        ["ANNE@example.test", "A", "D", "", "S-A", "", "", ""],  # 7 duplicate of row 2
        ["w@example.test", "X", "Y", "", "S-A", "", "maybe", ""],  # 8 bad consent
        ["", "Nobody", "", "", "S-A", "", "", ""],  # 9 no email nor mobile
    ]
    report = run(network, "hq_admin", rows)
    assert not report.ok
    assert [e.row for e in report.errors] == [3, 4, 5, 6, 7, 8, 9]
    messages = {e.row: " ".join(e.messages) for e in report.errors}
    assert "not a valid email" in messages[3]
    assert "not a valid mobile" in messages[4]
    assert "unknown store" in messages[5]
    assert "not a date" in messages[6]
    assert "row 2" in messages[7]
    assert Contact.unscoped.count() == 0 and ConsentEvent.unscoped.count() == 0


@pytest.mark.django_db
def test_store_imports_its_own_contacts_only(network):
    run(network, "hq_admin", [HEADER, GOOD[1]])  # Bruno belongs to store B
    rows = [["email", "last_name", "owner"], ["new@example.test", "New", ""], ["x@example.test", "X", "S-B"]]
    report = run(network, "store_a", rows)
    assert [(e.row, "outside your scope" in e.messages[0]) for e in report.errors] == [(3, True)]
    report = run(
        network,
        "store_a",
        [["email", "last_name"], ["new@example.test", "New"], ["bruno@example.test", "Hacked"]],
    )
    assert report.ok and (report.created, report.unchanged) == (1, 1)
    assert Contact.unscoped.get(email="new@example.test").owner_id == network.store_a.pk
    assert Contact.unscoped.get(email="bruno@example.test").last_name == "Martin"
    AudienceSettings.unscoped.update_or_create(organisation=network.org, defaults={"existence_visible": True})
    report = run(network, "store_a", [["email", "last_name"], ["bruno@example.test", "Hacked"]])
    assert not report.ok and "another store" in report.errors[0].messages[0]


@pytest.mark.django_db
def test_reimport_after_erasure_does_not_make_the_person_reachable(network):
    run(network, "hq_admin", [HEADER, GOOD[0]])
    with activate(network.scope("hq_admin")):
        services.contact_erase(contact=Contact.objects.get(email="anne@example.test"))
    report = run(network, "hq_admin", [HEADER, GOOD[0]])
    assert report.ok and report.created == 1 and report.consent_refused == 1
    with activate(network.scope("hq_admin")):
        assert Contact.objects.get(email="anne@example.test").consent_email == ""
        assert selectors.reachable_contacts("email").count() == 0


@pytest.mark.django_db
def test_xlsx_import_as_a_background_job_with_progress(network):
    book = openpyxl.Workbook()
    sheet = book.worksheets[0]
    sheet.append(["Email", "Last name", "Mobile", "Birth date"])
    sheet.append(["xl@example.test", "Excel", 612345678, None])
    sheet.append(["xl2@example.test", "Excel", None, datetime.date(1990, 5, 17)])
    buffer = io.BytesIO()
    book.save(buffer)
    with activate(network.scope("store_a")):
        name = save_upload(buffer.getvalue(), suffix=".xlsx")
        header = importer.read_header(name, "people.xlsx")
        job = jobs.enqueue(
            importer.JOB_KIND,
            scope=network.scope("store_a"),
            params={"upload": name, "filename": "people.xlsx", "mapping": importer.guess_mapping(header, [])},
            by_user_id=network.users["store_a"].pk,
        )
    jobs.run_pending("test")
    job = Job.unscoped.get(pk=job.pk)
    assert job.status == "done", job.error
    assert job.result["created"] == 2 and job.progress == job.total == 4
    assert Contact.unscoped.get(email="xl@example.test").mobile == "+33612345678"
    assert str(Contact.unscoped.get(email="xl2@example.test").birth_date) == "1990-05-17"


@pytest.mark.django_db
def test_command_line_prints_report_and_fails_on_rejected_rows(network, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(importer.csv_bytes([HEADER, *GOOD]))
    call_command("import_contacts", str(good), "--org", "maison-test", "--dry-run")
    assert Contact.unscoped.count() == 0
    call_command("import_contacts", str(good), "--org", "maison-test", "--entity", "HQ")
    assert Contact.unscoped.count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_bytes(importer.csv_bytes([["email"], ["nope"]]))
    with pytest.raises(CommandError):
        call_command("import_contacts", str(bad), "--org", "maison-test")
    assert "row 2" in capsys.readouterr().err
