"""Contact import, second try: headers auto-mapped, columns and wording remembered per node and set of
headers (a corrected file goes straight to the check), and the bad rows downloadable to fix."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from glocal.audience import importer, mappings
from glocal.audience.models import ConsentEvent, Contact, ImportMapping
from glocal.core import jobs
from glocal.core.models import AuditEvent, Job
from glocal.core.scope import activate

# ---------------------------------------------------------------------------------------------------
# (c) the guess


@pytest.mark.parametrize(
    ("headers", "target"),
    [
        (["E-mail", "Email", "Adresse e-mail", "Courriel", "Mail", "  ADRESSE  EMAIL "], "email"),
        (["Téléphone", "Portable", "Mobile", "Tel", "Tél.", "TELEPHONE PORTABLE"], "mobile"),
        (["Prénom", "First name", "PRENOM", "first_name"], "first_name"),
        (["Nom", "Last name", "Nom de famille", "NOM DE FAMILLE"], "last_name"),
        (["Code postal", "CP", "Zip", "code-postal"], "postcode"),
        (["Ville", "City", "VILLE"], "city"),
        (["Date de naissance", "Birth date", "date_de_naissance"], "birth_date"),
        (
            ["Opt-in email", "Consentement email", "Accepte email", "OPT IN E-MAIL", "Optin e-mail"],
            "consent_email",
        ),
        (["Opt-in SMS", "Consentement SMS", "opt-in sms", "Accepte SMS"], "consent_sms"),
    ],
)
def test_common_french_and_english_headers_map_themselves(headers, target):
    for header in headers:
        assert importer.guess_mapping([header], []) == [target], header


def test_unknown_headers_stay_unmapped_and_each_field_is_guessed_once():
    header = ["Adresse e-mail", "Téléphone", "Prénom", "Nom", "CP", "Ville", "Opt-in SMS", "Fidélité", "Mail"]
    assert importer.guess_mapping(header, []) == [
        "email",
        "mobile",
        "first_name",
        "last_name",
        "postcode",
        "city",
        "consent_sms",
        "",
        "",  # a second email column is left for the user to choose
    ]


# ---------------------------------------------------------------------------------------------------
# (a) remembered columns and wording

HEADER = ["Courriel", "Portable", "Prénom", "Opt-in email", "Code magasin interne"]
ROWS = [
    ["anne@example.test", "06 12 34 56 78", "Anne", "oui", "Lyon"],
    ["pas-un-email", "", "Bruno", "oui", "Lyon"],
    ["chloe@example.test", "", "Chloé", "peut-être", "Lyon"],
    ["denis@example.test", "", "Denis", "non", "Lyon"],
]
FIXED = [ROWS[0], ["bruno@example.test", "", "Bruno", "oui", "Lyon"], [*ROWS[2][:3], "oui", "Lyon"], ROWS[3]]
# The user's own choices, which the guess would not make: the last column is the city.
CHOSEN = {
    "col_0": "email",
    "col_1": "mobile",
    "col_2": "first_name",
    "col_3": "consent_email",
    "col_4": "city",
}
WORDING = "J’accepte de recevoir les offres du magasin par e-mail."


def upload(client, rows, name="clients.csv", data=None):
    file = io.BytesIO(data if data is not None else importer.csv_bytes(rows))
    file.name = name
    return client.post(reverse("audience:import"), {"file": file})


def check_job():
    jobs.run_pending("test")
    return Job.unscoped.filter(kind=importer.JOB_KIND).latest("pk")


def first_check(client):
    response = upload(client, [HEADER, *ROWS])
    assert "/mapping/" in response["Location"]  # never seen: the mapping page
    response = client.post(response["Location"], {**CHOSEN, "wording": WORDING})
    assert response.status_code == 302
    return check_job()


@pytest.mark.django_db
def test_a_corrected_file_goes_straight_to_the_check_with_the_remembered_columns(network, login):
    client = login(network, "store_a")
    refused = first_check(client)
    assert not refused.result["ok"] and refused.result["error_count"] == 2 and Contact.unscoped.count() == 0
    stored = ImportMapping.unscoped.get()
    assert stored.entity_id == network.store_a.pk and stored.wording == WORDING
    assert stored.mapping == ["email", "mobile", "first_name", "consent_email", "city"]

    response = upload(client, [HEADER, *FIXED])
    assert response.status_code == 302 and "/import/jobs/" in response["Location"]  # no mapping page
    checked = check_job()
    assert checked.params["mapping"] == stored.mapping and checked.params["wording"] == WORDING
    assert checked.result["ok"], checked.result
    page = client.get(response["Location"]).content.decode()
    assert "Change the mapping" in page and "Import now" in page
    mapping_url = reverse("audience:import_mapping", kwargs={"key": checked.params["pending"]})
    assert mapping_url in page

    client.post(reverse("audience:import_run", kwargs={"pk": checked.pk}))
    jobs.run_pending("test")
    anne = Contact.unscoped.get(email="anne@example.test")
    assert (anne.city, anne.consent_email, anne.owner_id) == ("Lyon", "opt_in", network.store_a.pk)
    assert ConsentEvent.unscoped.get(contact=anne).wording == WORDING
    assert Contact.unscoped.count() == 4


@pytest.mark.django_db
def test_the_mapping_page_comes_filled_in_and_a_change_is_remembered(network, login):
    client = login(network, "store_a")
    first_check(client)
    audits = AuditEvent.unscoped.filter(action=mappings.AUDIT_REMEMBER).count()
    assert audits == 1
    response = upload(client, [HEADER, *FIXED])
    checked = check_job()
    mapping_url = reverse("audience:import_mapping", kwargs={"key": checked.params["pending"]})
    page = client.get(mapping_url).content.decode()
    assert 'data-testid="remembered"' in page and WORDING in page
    assert '<option value="city" selected>' in page  # the user's choice, not the guess ("")
    # The same choices again write nothing; a change is kept for the next file.
    client.post(mapping_url, {**CHOSEN, "wording": WORDING})
    assert AuditEvent.unscoped.filter(action=mappings.AUDIT_REMEMBER).count() == audits
    client.post(mapping_url, {**CHOSEN, "col_4": "", "wording": WORDING})
    assert AuditEvent.unscoped.filter(action=mappings.AUDIT_REMEMBER).count() == audits + 1
    assert ImportMapping.unscoped.get().mapping[4] == ""
    assert response.status_code == 302


@pytest.mark.django_db
def test_columns_are_remembered_by_name_whatever_their_order_accents_or_case(network, login):
    client = login(network, "store_a")
    first_check(client)
    order = [4, 0, 3, 1, 2]
    header = ["code magasin INTERNE", "COURRIEL", "Opt-in e-mail", "portable", "Prenom"]
    rows = [[row[i] for i in order] for row in FIXED]
    response = upload(client, [header, *rows])
    assert "/import/jobs/" in response["Location"]
    checked = check_job()
    assert checked.params["mapping"] == ["city", "email", "consent_email", "mobile", "first_name"]
    assert checked.result["ok"], checked.result


@pytest.mark.django_db
def test_remembered_columns_are_the_nodes_own(network, login):
    first_check(login(network, "store_a"))
    other = login(network, "store_b")
    response = upload(other, [HEADER, *FIXED])
    assert "/mapping/" in response["Location"]
    page = other.get(response["Location"]).content.decode()
    assert 'data-testid="remembered"' not in page and WORDING not in page
    with activate(network.scope("store_b")):
        assert mappings.recall(HEADER, []) is None
    with activate(network.scope("store_a")):
        remembered = mappings.recall(HEADER, [])
        assert remembered is not None and remembered.mapping[4] == "city"


@pytest.mark.django_db
def test_a_file_with_other_headers_gets_the_mapping_page(network, login):
    client = login(network, "store_a")
    first_check(client)
    response = upload(client, [[*HEADER, "Ville"], *(row + ["Paris"] for row in FIXED)])
    assert "/mapping/" in response["Location"]


# ---------------------------------------------------------------------------------------------------
# (b) the rows to fix


def download(client, job):
    response = client.get(reverse("audience:import_rows_to_fix", kwargs={"pk": job.pk}))
    assert response.status_code == 200, response.status_code
    return response, b"".join(response.streaming_content)


@pytest.mark.django_db
def test_the_rows_to_fix_hold_exactly_the_bad_rows_with_their_errors(network, login):
    client = login(network, "store_a")
    refused = first_check(client)
    page = client.get(reverse("audience:import_job", kwargs={"pk": refused.pk})).content.decode()
    assert "Download the rows to fix" in page and "upload the whole file again" in page
    response, data = download(client, refused)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        "attachment" in response["Content-Disposition"] and "rows to fix" in response["Content-Disposition"]
    )
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == [*HEADER, "error"]
    assert [row[:-1] for row in rows[1:]] == [ROWS[1], ROWS[2]]
    assert rows[1][-1].startswith("Row 3: ") and "valid email" in rows[1][-1]
    assert rows[2][-1].startswith("Row 4: ") and "“peut-être” is not a consent" in rows[2][-1]
    expected = {e["row"]: "; ".join(e["messages"]) for e in refused.result["errors"]}
    assert {int(r[-1].split(":")[0][4:]): r[-1].split(": ", 1)[1] for r in rows[1:]} == expected


@pytest.mark.django_db
def test_the_rows_to_fix_keep_the_uploads_separator_and_encoding_in_the_readers_language(
    network, login, settings
):
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    text = (
        "Courriel;Prénom;Ville\r\nanne@example.test;Anne;Orléans\r\nfaux;Bérénice;Épinal\r\n=1+2;Zoé;Sète\r\n"
    )
    response = upload(client, [], data=text.encode("cp1252"))
    client.post(
        response["Location"], {"col_0": "email", "col_1": "first_name", "col_2": "city", "wording": ""}
    )
    refused = check_job()
    assert refused.result["error_count"] == 2
    response, data = download(client, refused)
    assert response["Content-Type"] == "text/csv; charset=windows-1252"
    assert "lignes" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";"))
    assert rows[0] == ["Courriel", "Prénom", "Ville", "erreur"]
    assert rows[1][:3] == ["faux", "Bérénice", "Épinal"] and rows[1][3].startswith("Ligne 3\u00a0: ")
    assert "adresse e-mail valide" in rows[1][3]
    assert rows[2][:3] == ["'=1+2", "Zoé", "Sète"]  # a formula is neutralised for the spreadsheet


@pytest.mark.django_db
def test_rows_to_fix_of_a_workbook_are_a_utf8_csv(network):
    book = openpyxl.Workbook()
    book.worksheets[0].append(["Email", "Mobile"])
    book.worksheets[0].append(["ok@example.test", "+33 6 12 34 56 78"])
    book.worksheets[0].append(["nope", "+33 6 12 34 56 79"])
    buffer = io.BytesIO()
    book.save(buffer)
    from glocal.core.uploads import save_upload

    with activate(network.scope("store_a")):
        name = save_upload(buffer.getvalue(), suffix=".xlsx")
        errors = [{"row": 3, "messages": ["bad email"]}]
        codec, delimiter = importer.fix_format(name, "people.xlsx", "fr")
        data = b"".join(importer.rows_to_fix(name, "people.xlsx", errors, codec=codec, delimiter=delimiter))
    assert (codec, delimiter) == ("utf-8-sig", ";") and data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines() == [
        "Email;Mobile;error",
        "nope;+33 6 12 34 56 79;Row 3: bad email",
    ]


@pytest.mark.django_db
def test_rows_to_fix_only_for_a_refused_check_of_ones_own_node(network, login):
    refused = first_check(login(network, "store_a"))
    assert (
        login(network, "store_b")
        .get(reverse("audience:import_rows_to_fix", kwargs={"pk": refused.pk}))
        .status_code
        == 404
    )
    assert (
        login(network, "hq_admin")
        .get(reverse("audience:import_rows_to_fix", kwargs={"pk": refused.pk}))
        .status_code
        == 200
    )
    client = login(network, "store_a")
    upload(client, [HEADER, *FIXED])
    passed = check_job()
    assert passed.result["ok"]
    assert client.get(reverse("audience:import_rows_to_fix", kwargs={"pk": passed.pk})).status_code == 404
