"""Network import: every bad row reported with its reason, all or nothing, re-import idempotent."""

import csv
import io
import subprocess
import sys
from pathlib import Path

from glocal.core import jobs
from glocal.core.models import Job
from glocal.core.scope import activate
from glocal.network.importer import import_network
from glocal.network.models import Entity

HEADER = [
    "code",
    "parent_code",
    "type",
    "name",
    "city",
    "postcode",
    "phone",
    "email",
    "website",
    "timezone",
    "latitude",
    "longitude",
    "catchment_postcodes",
]


def rows_100() -> list[dict[str, str]]:
    rows = [{"code": "R-E", "parent_code": "HQ", "type": "region", "name": "Région Est"}]
    for i in range(1, 100):
        rows.append(
            {
                "code": f"S-{i:03d}",
                "parent_code": "R-E" if i % 2 else "R-N",
                "type": "store",
                "name": f"Magasin {i}",
                "city": "Metz",
                "postcode": "57000",
                "phone": f"03 87 00 {i // 10:02d} {i % 100:02d}",
                "email": f"s{i}@example.test",
                "website": "https://example.test",
                "timezone": "Europe/Paris",
                "latitude": "49.1193",
                "longitude": "6.1757",
                "catchment_postcodes": "57000 57050",
            }
        )
    return rows


def to_csv(rows: list[dict[str, str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_100_rows_with_3_bad_report_each_and_write_nothing(network):
    rows = rows_100()
    rows[10]["email"] = "not-an-email"  # row 12
    rows[40]["parent_code"] = "NOPE"  # row 42
    rows[70]["timezone"] = "Mars/Olympus"  # row 72
    with activate(network.scope("hq_admin")):
        before = Entity.objects.count()
        report = import_network(to_csv(rows))
        assert Entity.objects.count() == before
    assert report.total_rows == 100
    assert [e.row for e in report.errors] == [12, 42, 72]
    assert "email" in report.errors[0].messages[0]
    assert "NOPE" in report.errors[1].messages[0]
    assert "Mars/Olympus" in report.errors[2].messages[0]
    assert not report.ok


def test_valid_file_imports_then_reimport_changes_nothing(network):
    data = to_csv(rows_100(), delimiter=";")
    with activate(network.scope("hq_admin")):
        first = import_network(data)
        assert first.ok and first.created == 100
        store = Entity.objects.get(code="S-001")
        assert store.phone == "+33387000001"
        assert store.parent.code == "R-E" and store.path.startswith(network.hq.path)
        assert store.catchment_postcodes == ["57000", "57050"]
        snapshot = list(
            Entity.objects.order_by("pk").values_list("pk", "path", "name", "phone", "updated_at")
        )
        second = import_network(data)
        assert second.ok and second.created == 0 and second.updated == 0 and second.unchanged == 100
        assert (
            list(Entity.objects.order_by("pk").values_list("pk", "path", "name", "phone", "updated_at"))
            == snapshot
        )


def test_reimport_updates_and_moves_by_code(network):
    rows = [{"code": "S-A", "parent_code": "R-S", "type": "store", "name": "Magasin A rénové"}]
    with activate(network.scope("hq_admin")):
        report = import_network(to_csv(rows))
        assert report.ok and report.updated == 1 and report.moved == 1
        store = Entity.objects.get(code="S-A")
    assert store.name == "Magasin A rénové"
    assert store.parent_id == network.region_s.pk and store.path.startswith(network.region_s.path)


def test_duplicates_cycles_and_foreign_codes_are_reported(network):
    rows = [
        {"code": "X-1", "parent_code": "X-2", "type": "area", "name": "Loop 1"},
        {"code": "X-2", "parent_code": "X-1", "type": "area", "name": "Loop 2"},
        {"code": "X-3", "parent_code": "HQ", "type": "area", "name": "Dup"},
        {"code": "X-3", "parent_code": "HQ", "type": "area", "name": "Dup again"},
        {"code": "S-B", "parent_code": "R-N", "type": "store", "name": "Not mine"},
        {"code": "X-4", "parent_code": "HQ", "type": "spaceship", "name": "Bad type"},
    ]
    with activate(network.scope("regional")):
        report = import_network(to_csv(rows))
    by_row = {e.row: " ".join(e.messages) for e in report.errors}
    assert "cycle" in by_row[2] and "cycle" in by_row[3]
    assert "row 4" in by_row[5]
    assert "cannot manage" in by_row[6]
    assert "spaceship" in by_row[7]


def test_missing_columns_and_bad_encoding_are_file_errors(network):
    with activate(network.scope("hq_admin")):
        assert import_network(b"code,name\nA,B\n").file_errors
        # Windows-1252 / Latin-1 is read now (see test_import_limits); a byte neither UTF-8 nor
        # Windows-1252 can decode is still a file error.
        assert import_network(b"code,name,type\nA,\x81,store\n").file_errors


def test_import_through_the_web_runs_as_a_background_job(network, login):
    client = login(network, "hq_admin")
    upload = io.BytesIO(to_csv(rows_100()))
    upload.name = "network.csv"
    response = client.post("/network/import/", {"file": upload})
    assert response.status_code == 302
    job = Job.unscoped.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.status == Job.Status.QUEUED
    assert jobs.run_pending("test-worker") == 1
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.result["created"] == 100 and job.progress == 100
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "100 created" in page


def test_cli_prints_the_report_and_exits_non_zero(tmp_path: Path):
    """The real `glocal` entry point on a fresh SQLite file."""
    env = {
        "GLOCAL_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
    }
    glocal = [sys.executable, "-m", "glocal.cli"]
    subprocess.run([*glocal, "migrate", "-v0"], env=env, check=True, cwd=Path(__file__).parents[3])
    subprocess.run(
        [*glocal, "seed", "--stores", "12"],
        env=env,
        check=True,
        capture_output=True,
        cwd=Path(__file__).parents[3],
    )
    rows = rows_100()[:5]
    for r in rows:
        r["parent_code"] = "HQ" if r["code"] == "R-E" else "R-E"
    rows[2]["email"] = "broken"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(to_csv(rows))
    result = subprocess.run(
        [*glocal, "import-network", str(bad), "--org", "maison-verte"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    assert result.returncode == 1
    assert "row 4 (S-002)" in result.stderr and "nothing written" in result.stdout
    rows[2]["email"] = "fixed@example.test"
    good = tmp_path / "good.csv"
    good.write_bytes(to_csv(rows))
    result = subprocess.run(
        [*glocal, "import-network", str(good), "--org", "maison-verte"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    assert result.returncode == 0, result.stderr
    assert "5 created" in result.stdout
