"""Backup and restore (docs/backup.md): the round trip of deploy/backup-roundtrip.sh on the engine under
test, and the rules of the manifest check and of the comparison on their own."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from glocal.core import backup

ROOT = Path(__file__).resolve().parents[3]


def test_backup_restore_compare_round_trip(tmp_path: Path) -> None:
    """Seed a fresh database, back it up, restore it into a second fresh database and media directory:
    every table, sequence and media file is the same, and a row changed afterwards is seen. PostgreSQL
    when the suite runs on it (fresh databases on the same server), SQLite otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    url = os.environ.get("DATABASE_URL", "")
    env.pop("DATABASE_URL", None)
    if url.startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = url
    env.update(ROUNDTRIP_STORES="2", ROUNDTRIP_CONTACTS="20", TMPDIR=str(tmp_path))
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "backup-roundtrip.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    engine = "postgresql" if "DATABASE_URL" in env else "sqlite"
    assert f"BACKUP ROUND TRIP PASSED ({engine})" in out

    compared = out.split("== compare, table by table")[1].split("== self-check")[0]
    summary = re.search(
        r"(\d+) tables, (\d+) rows, (\d+) sequences, (\d+) media files: 0 difference", compared
    )
    assert summary, compared
    tables, rows, sequences, media = (int(n) for n in summary.groups())
    table_lines = re.findall(r"^OK   table +(\S+) +(\d+) rows", compared, re.M)
    assert len(table_lines) == tables > 50  # every table of the schema, one line each
    assert {"audience_contact", "django_migrations", "delivery_message"} <= {t for t, _ in table_lines}
    assert sum(int(n) for _, n in table_lines) == rows
    assert dict(table_lines)["audience_contact"] == "20"
    assert len(re.findall(r"^OK   sequence ", compared, re.M)) == sequences > 0
    assert len(re.findall(r"^OK   media ", compared, re.M)) == media >= 4  # the seeded files and the script's
    assert "DIFF" not in compared

    checked = out.split("== self-check")[1]
    assert re.search(r"^DIFF table +audience_contact ", checked, re.M)
    assert "the changed row was seen" in checked


# --- The manifest check: what restore.sh refuses -------------------------------------------------------


def _backup_dir(tmp_path: Path, *, applied: list[list[str]], engine: str | None = None) -> Path:
    directory = tmp_path / "glocal-backup"
    directory.mkdir()
    (directory / "database.dump").write_bytes(b"the dump")
    manifest = {
        "format": backup.FORMAT,
        "engine": engine or connection.vendor,
        "migrations": {"applied": applied},
        "files": {"database.dump": {"sha256": backup.sha256_file(directory / "database.dump"), "bytes": 8}},
    }
    (directory / backup.MANIFEST).write_text(json.dumps(manifest))
    return directory


def test_a_backup_of_this_code_is_accepted_and_older_ones_ask_for_migrate(tmp_path: Path) -> None:
    known = sorted(backup.code_migrations())
    directory = _backup_dir(tmp_path, applied=[list(m) for m in known[:-1]])
    result = backup.check_manifest(directory)
    assert result.ok and not result.problems and not result.newer
    assert result.pending == [known[-1]]  # the code is newer: migrate after the restore


def test_a_backup_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    known = sorted(backup.code_migrations())
    directory = _backup_dir(
        tmp_path, applied=[list(m) for m in known] + [["delivery", "9999_from_the_future"]]
    )
    result = backup.check_manifest(directory)
    assert not result.ok
    assert result.newer == [("delivery", "9999_from_the_future")]
    with pytest.raises(CommandError) as refused:
        call_command("backup_tool", "check", str(directory))
    assert refused.value.returncode == 2


def test_a_damaged_or_incomplete_backup_is_refused(tmp_path: Path) -> None:
    directory = _backup_dir(tmp_path, applied=[list(m) for m in backup.code_migrations()])
    (directory / "database.dump").write_bytes(b"the dumq")
    assert "does not match its sha256" in " ".join(backup.check_manifest(directory).problems)
    (directory / "database.dump").unlink()
    assert "database.dump is missing." in backup.check_manifest(directory).problems
    (directory / backup.MANIFEST).unlink()
    assert not backup.check_manifest(directory).ok


def test_a_backup_of_the_other_engine_is_refused(tmp_path: Path) -> None:
    other = "sqlite" if connection.vendor == "postgresql" else "postgresql"
    directory = _backup_dir(tmp_path, applied=[], engine=other)
    assert not backup.check_manifest(directory).ok


# --- The comparison ------------------------------------------------------------------------------------


def _digest(**changes: object) -> dict:
    value: dict = {
        "engine": "postgresql",
        "tables": {"a": {"rows": 2, "digest": "123"}, "b": {"rows": 0, "digest": "0"}},
        "sequences": {"a_id_seq": "2"},
        "media": {"x/y.jpg": "f00d"},
    }
    value.update(changes)
    return value


def test_compare_prints_one_line_per_table_and_counts_every_difference() -> None:
    lines, differences = backup.compare(_digest(), _digest())
    assert differences == 0
    assert [line.split()[:3] for line in lines[1:5]] == [
        ["OK", "table", "a"],
        ["OK", "table", "b"],
        ["OK", "sequence", "a_id_seq"],
        ["OK", "media", "x/y.jpg"],
    ]
    changed = _digest(
        tables={"a": {"rows": 2, "digest": "124"}, "c": {"rows": 0, "digest": "0"}},
        sequences={"a_id_seq": "1"},
        media={},
    )
    lines, differences = backup.compare(_digest(), changed)
    assert differences == 5  # a's digest, b missing, c extra, the sequence, the media file
    assert sum(line.startswith("DIFF") for line in lines) == 5
    assert backup.compare(_digest(tables={}), _digest(tables={}))[1] == 1  # nothing compared is a failure


@pytest.mark.django_db
def test_the_digest_of_a_table_depends_on_its_rows_not_their_order() -> None:
    rows = [("Lyon", 3), ("Paris", 1), ("Nantes", 2), ("Lyon", 3)]
    with connection.cursor() as cursor:
        for table, ordered in (("digest_a", rows), ("digest_b", rows[::-1])):
            cursor.execute(f"CREATE TABLE {table} (city VARCHAR(20), n INTEGER)")
            cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s)", ordered)  # noqa: S608
            cursor.execute(f"SELECT city FROM {table}")  # noqa: S608
            assert [r[0] for r in cursor.fetchall()] == [c for c, _ in ordered]  # stored in that order
    assert backup._table_digest(connection, "digest_a") == backup._table_digest(connection, "digest_b")
    count, digest = backup._table_digest(connection, "digest_a")
    assert count == 4
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM digest_b WHERE city = 'Paris'")
        cursor.execute("INSERT INTO digest_b VALUES ('Paris', 4)")
    assert backup._table_digest(connection, "digest_b")[0] == 4
    assert backup._table_digest(connection, "digest_b")[1] != digest  # one value changed
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM digest_a WHERE city = 'Lyon'")
        cursor.execute("INSERT INTO digest_a VALUES ('Lyon', 3)")
    assert backup._table_digest(connection, "digest_a")[0] == 3  # a duplicate row counts
    assert "digest_a" in backup.database_digest()["tables"]


def test_the_sqlite_copy_holds_what_is_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    """The backup API copies committed pages wherever they are; copying the main file would miss the
    last transactions, still in the -wal file."""
    source = tmp_path / "live.sqlite3"
    live = sqlite3.connect(source)
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("PRAGMA wal_autocheckpoint=0")
    live.execute("CREATE TABLE t (v TEXT)")
    with live:
        live.executemany("INSERT INTO t VALUES (?)", [("one",), ("two",)])
    assert (tmp_path / "live.sqlite3-wal").stat().st_size > 0
    backup.sqlite_copy(source, tmp_path / "copy.sqlite3")
    live.close()
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT v FROM t ORDER BY v").fetchall() == [("one",), ("two",)]
    copy.close()
