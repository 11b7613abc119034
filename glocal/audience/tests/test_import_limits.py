"""Contact imports cannot exhaust the server, and any encoding is read or refused in one clear line.

The hostile files are built by the tests (glocal/core/tests/hostile_files.py); every refusal is checked
to write nothing and to stay within a sane memory bound (tracemalloc peak), never against the clock."""

import io
import tracemalloc

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from glocal.audience import importer
from glocal.audience.models import ConsentEvent, Contact
from glocal.core.models import Job
from glocal.core.scope import activate
from glocal.core.tests import hostile_files
from glocal.core.uploads import save_upload

MEMORY_BOUND = 100 * 1024 * 1024  # bytes: a sane ceiling for reading a hostile file


def _post_upload(client, data: bytes, name: str):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(reverse("audience:import"), {"file": upload})


def _peak(function):
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------------
# Encodings


LATIN1 = "Courriel;Prénom;Nom\nelodie@example.test;Élodie;Lefèvre\nzoe@example.test;Zoé;Gaëtan\n"


@pytest.mark.django_db
def test_cli_reads_a_latin1_file_and_says_so(network, tmp_path, capsys):
    path = tmp_path / "clients.csv"
    path.write_bytes(LATIN1.encode("latin-1"))
    call_command("import_contacts", str(path), "--org", "maison-test")
    out = capsys.readouterr().out
    assert "Windows-1252" in out
    assert Contact.unscoped.get(email="elodie@example.test").first_name == "Élodie"
    assert Contact.unscoped.get(email="zoe@example.test").last_name == "Gaëtan"


@pytest.mark.django_db
def test_cli_refuses_an_undecodable_file_in_one_line(network, tmp_path):
    path = tmp_path / "clients.csv"
    # 0x81 is no character in Windows-1252 and starts no UTF-8 sequence.
    path.write_bytes(b"email;name\nx@example.test;Bad\x81name\n")
    with pytest.raises(CommandError) as refused:
        call_command("import_contacts", str(path), "--org", "maison-test")
    message = str(refused.value)
    assert "UTF-8" in message and "\n" not in message
    assert not Contact.unscoped.exists()
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"email\x00name\n\x00\x01\x02")
    with pytest.raises(CommandError, match="not text"):
        call_command("import_contacts", str(binary), "--org", "maison-test")


@pytest.mark.django_db
def test_mapping_page_detects_a_non_utf8_byte_in_the_first_64kb(network, login):
    client = login(network, "store_a")
    response = _post_upload(client, LATIN1.encode("cp1252"), "clients.csv")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    # Three real columns (not one), their values decoded, and the detected encoding reported.
    assert 'name="col_2"' in page and "Élodie" in page and "Windows-1252" in page
    response = client.post(
        response["Location"], {"col_0": "email", "col_1": "first_name", "col_2": "last_name"}
    )
    assert response.status_code == 302
    from glocal.core import jobs

    jobs.run_pending("test")
    check = Job.unscoped.get(kind=importer.JOB_KIND)
    assert check.result["ok"] and check.result["encoding"] == "Windows-1252"


@pytest.mark.django_db
def test_mapping_page_refuses_an_undecodable_file(network, login):
    client = login(network, "store_a")
    response = _post_upload(client, b"email;name\nx@example.test;Bad\x81name\n", "clients.csv")
    assert response.status_code == 200
    assert "UTF-8" in response.content.decode()


# ---------------------------------------------------------------------------------------------------
# Limits


@pytest.mark.django_db
def test_a_csv_with_100000_columns_is_refused_at_upload(network, login):
    client = login(network, "store_a")
    data = hostile_files.wide_csv(100_000)
    response, peak = _peak(lambda: _post_upload(client, data, "wide.csv"))
    assert response.status_code == 200  # the upload form again, with the reason
    page = response.content.decode()
    assert "200 columns" in page and len(page) < 100_000
    assert not client.session.get("audience_imports")
    assert peak < MEMORY_BOUND


@pytest.mark.django_db
def test_a_shared_strings_bomb_is_refused_before_parsing(network, login):
    data = hostile_files.shared_strings_bomb(200)
    assert len(data) < 1_000_000
    client = login(network, "store_a")
    response, peak = _peak(lambda: _post_upload(client, data, "bomb.xlsx"))
    assert response.status_code == 200
    assert "CSV" in response.content.decode()  # what to do: export the sheet as CSV
    assert peak < MEMORY_BOUND
    # The background check refuses it the same way and writes nothing.
    with activate(network.scope("store_a")):
        name = save_upload(data, suffix=".xlsx")
        plan = importer.Plan(source=name, filename="bomb.xlsx", mapping=["email", "last_name"])
        report, peak = _peak(lambda: importer.import_contacts(plan))
    assert not report.ok and report.file_errors and report.created == 0
    assert not Contact.unscoped.exists() and not ConsentEvent.unscoped.exists()
    assert peak < MEMORY_BOUND


@pytest.mark.django_db
def test_a_far_away_cell_is_refused_with_its_column(network, login):
    data = hostile_files.far_away_cell()
    assert len(data) < 4096
    client = login(network, "store_a")
    response, peak = _peak(lambda: _post_upload(client, data, "sparse.xlsx"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "200 columns" in page and len(page) < 100_000
    assert peak < MEMORY_BOUND
    with activate(network.scope("store_a")):
        name = save_upload(data, suffix=".xlsx")
        plan = importer.Plan(source=name, filename="sparse.xlsx", mapping=["email", "last_name"])
        report, peak = _peak(lambda: importer.import_contacts(plan))
    assert not report.ok and "200 columns" in report.file_errors[0]
    assert not Contact.unscoped.exists()
    assert peak < MEMORY_BOUND


@pytest.mark.django_db
def test_a_huge_dimension_shows_only_the_real_columns(network, login):
    client = login(network, "store_a")
    response = _post_upload(client, hostile_files.huge_dimension(), "dimension.xlsx")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'name="col_1"' in page and 'name="col_2"' not in page
    assert "dim@example.test" in page and len(page) < 100_000


@pytest.mark.django_db
def test_the_mapping_page_shows_a_few_short_samples(network, login):
    client = login(network, "store_a")
    rows = [["email", "note"]] + [[f"s{i}@example.test", "n" * 5000] for i in range(50)]
    response = _post_upload(client, importer.csv_bytes(rows), "samples.csv")
    pending = next(iter(client.session["audience_imports"].values()))
    assert len(pending["samples"]) <= 3
    assert all(len(cell) <= 100 for row in pending["samples"] for cell in row)
    page = client.get(response["Location"]).content.decode()
    assert "s0@example.test" in page and "s10@example.test" not in page


@pytest.mark.django_db
def test_a_cell_longer_than_the_limit_is_refused_and_nothing_written(network):
    rows = [["email", "last_name"], ["ok@example.test", "Fine"], ["long@example.test", "L" * 10_001]]
    with activate(network.scope("hq_admin")):
        name = save_upload(importer.csv_bytes(rows), suffix=".csv")
        plan = importer.Plan(source=name, filename="long.csv", mapping=["email", "last_name"])
        report = importer.import_contacts(plan)
    assert not report.ok
    assert "10,000 characters" in report.file_errors[0] or "10000 characters" in report.file_errors[0]
    assert "3" in report.file_errors[0]  # the row
    assert not Contact.unscoped.exists()


@pytest.mark.django_db
def test_the_row_limit_is_a_setting(network, settings, tmp_path):
    settings.GLOCAL_CONTACT_IMPORT_MAX_ROWS = 5
    rows = [["email"]] + [[f"r{i}@example.test"] for i in range(6)]
    path = tmp_path / "many.csv"
    path.write_bytes(importer.csv_bytes(rows))
    with pytest.raises(CommandError, match="5 rows"):
        call_command("import_contacts", str(path), "--org", "maison-test")
    assert not Contact.unscoped.exists()
    path.write_bytes(importer.csv_bytes(rows[:6]))
    call_command("import_contacts", str(path), "--org", "maison-test")
    assert Contact.unscoped.count() == 5


@pytest.mark.django_db
def test_refusals_speak_french(network, login, settings):
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = _post_upload(client, hostile_files.wide_csv(300), "wide.csv")
    page = response.content.decode()
    assert "200 colonnes" in page


@pytest.mark.django_db
def test_a_file_refused_by_the_background_check_says_so_in_french(network, login, settings):
    from glocal.core import jobs

    with activate(network.scope("store_a")):
        name = save_upload(hostile_files.far_away_cell(), suffix=".xlsx")
    job = jobs.enqueue(
        importer.JOB_KIND,
        scope=network.scope("store_a"),
        params={"upload": name, "filename": "sparse.xlsx", "mapping": ["email"], "language": "fr"},
        by_user_id=network.users["store_a"].pk,
    )
    jobs.run_pending("test")
    job.refresh_from_db()
    assert job.status == "done" and not job.result["ok"]
    assert "200 colonnes" in job.result["file_errors"][0]
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = client.get(reverse("audience:import_job", kwargs={"pk": job.pk})).content.decode()
    assert "Le fichier a été refusé" in page and "200 colonnes" in page
    assert not Contact.unscoped.exists()
