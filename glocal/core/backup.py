"""The Python half of the backup scripts (deploy/backup.sh, restore.sh, backup-roundtrip.sh).

The scripts do the copying (pg_dump, pg_restore, tar); this module answers what only the application
knows: where the database and the media live (the settings, read from the environment like the app),
the migration state, the manifest, and a table-by-table digest of a database to compare a restore with
its source. See docs/backup.md.

It reads tables by name with raw SQL on purpose: a backup is about every table in the schema, including
Django's own and the many-to-many ones, never about the scoped managers of the apps.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
FORMAT = 1

Migration = tuple[str, str]


# --- Where things are --------------------------------------------------------------------------------


def engine() -> str:
    """ "postgresql" or "sqlite" (the two engines Glocal supports)."""
    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise ValueError(f"Unsupported database engine for backups: {vendor}")
    return vendor


def media_root() -> Path | None:
    """The media directory when uploads are stored on local disk, else None (S3 and the like)."""
    storage = storages["default"]
    return Path(storage.location) if isinstance(storage, FileSystemStorage) else None


def target_env() -> dict[str, str]:
    """What the shell scripts need, as variables: the engine, libpq's PG* for pg_dump / pg_restore
    (taken from the Django settings, so they follow DATABASE_URL exactly like the app), the SQLite
    file, the media directory and whether the target database already holds tables."""
    db: dict[str, Any] = dict(settings.DATABASES["default"])
    storage = storages["default"]
    root = media_root()
    env = {
        "GLOCAL_DB_ENGINE": engine(),
        "GLOCAL_DB_TABLES": str(len(user_tables(connection))),
        "GLOCAL_MEDIA_ON_DISK": "1" if root else "0",
        "GLOCAL_MEDIA_ROOT": str(root or ""),
        "GLOCAL_MEDIA_BACKEND": f"{type(storage).__module__}.{type(storage).__name__}",
    }
    if env["GLOCAL_DB_ENGINE"] == "sqlite":
        env["GLOCAL_DB_SQLITE_PATH"] = str(db["NAME"])
        return env
    libpq = {"PGDATABASE": "NAME", "PGUSER": "USER", "PGPASSWORD": "PASSWORD", "PGHOST": "HOST"}
    env.update({var: str(db[key]) for var, key in libpq.items() if db.get(key)})
    if db.get("PORT"):
        env["PGPORT"] = str(db["PORT"])
    for option, var in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT")):
        if db.get("OPTIONS", {}).get(option):
            env[var] = str(db["OPTIONS"][option])
    return env


def shell_assignments(values: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in sorted(values.items()))


# --- SQLite: the online backup API (never a copy of a live file) ----------------------------------------


def sqlite_copy(source: Path | str, target: Path | str) -> None:
    """Copy a SQLite database page by page with SQLite's backup API: consistent while the app writes
    (WAL included), and safe onto an existing target (its pages are replaced under a lock)."""
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


# --- Migrations ----------------------------------------------------------------------------------------


def applied_migrations() -> list[Migration]:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return []
    return sorted(recorder.applied_migrations())


def code_migrations() -> set[Migration]:
    """Every migration the installed code ships (read from disk, not from a database)."""
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def migration_summary(applied: Iterable[Migration]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for app, name in sorted(applied):
        entry = summary.setdefault(app, {"applied": 0, "last": ""})
        entry["applied"] += 1
        entry["last"] = max(entry["last"], name)
    return summary


# --- Manifest ------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def glocal_version(label: str = "") -> dict[str, str]:
    try:
        package = metadata.version("glocal")
    except metadata.PackageNotFoundError:
        package = "unknown"
    return {"package": package, "git": label}


def write_manifest(directory: Path, *, version_label: str, before: list[Migration]) -> dict[str, Any]:
    """Write manifest.json and SHA256SUMS for the files of a finished backup directory.

    ``before`` is the migration state read before the dump: a migration applied during the backup
    would make the dump's schema uncertain, so it is refused."""
    applied = applied_migrations()
    if applied != before:
        raise ValueError("The migration state changed during the backup (a migrate ran?); back up again.")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name not in {MANIFEST, CHECKSUMS})
    sums = {p.name: sha256_file(p) for p in files}
    root = media_root()
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "glocal_version": glocal_version(version_label),
        "engine": engine(),
        "database": str(settings.DATABASES["default"]["NAME"]),
        "media": {
            "on_disk": bool(root),
            "root": str(root or ""),
            "backend": storages["default"].__class__.__name__,
        },
        "migrations": {
            "applied": [list(m) for m in applied],
            "summary": migration_summary(applied),
        },
        "files": {
            name: {"sha256": digest, "bytes": (directory / name).stat().st_size}
            for name, digest in sums.items()
        },
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (directory / CHECKSUMS).write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))
    return manifest


@dataclass
class ManifestCheck:
    problems: list[str] = field(default_factory=list)
    newer: list[Migration] = field(default_factory=list)  # in the backup, unknown to this code
    pending: list[Migration] = field(default_factory=list)  # in this code, not in the backup: migrate after

    @property
    def ok(self) -> bool:
        return not self.problems and not self.newer


def check_manifest(directory: Path, *, known: set[Migration] | None = None) -> ManifestCheck:
    """Can this code restore this backup? Files intact, same engine, no migration newer than the code."""
    result = ManifestCheck()
    path = directory / MANIFEST
    if not path.is_file():
        result.problems.append(f"{path} is missing: not a complete Glocal backup.")
        return result
    manifest = json.loads(path.read_text())
    for name, entry in manifest.get("files", {}).items():
        file = directory / name
        if not file.is_file():
            result.problems.append(f"{name} is missing.")
        elif sha256_file(file) != entry["sha256"]:
            result.problems.append(f"{name} does not match its sha256 in the manifest (damaged copy?).")
    if manifest.get("engine") != engine():
        result.problems.append(
            f"The backup is of a {manifest.get('engine')} database; the target is {engine()}."
        )
    applied = {(app, name) for app, name in manifest.get("migrations", {}).get("applied", [])}
    known = code_migrations() if known is None else known
    result.newer = sorted(applied - known)
    result.pending = sorted(known - applied)
    return result


# --- Table-by-table digest -----------------------------------------------------------------------------


def user_tables(conn: BaseDatabaseWrapper) -> list[str]:
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            )
        return [row[0] for row in cursor.fetchall()]


def _row_hash(row: tuple[Any, ...]) -> int:
    """60 bits of the row's md5, as PostgreSQL's digest below takes them."""
    return int(hashlib.md5(repr(row).encode(), usedforsecurity=False).hexdigest()[:15], 16)


# The digest of a table is the sum of a 60-bit hash of each row: independent of the order rows come
# in, sensitive to every value and to duplicates, and computed in one streaming pass (no 1 GB string
# like string_agg would build on a large table). numeric never overflows.
PG_DIGEST = (
    "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text"
    " FROM {table} AS t"
)


def _table_digest(conn: BaseDatabaseWrapper, table: str) -> tuple[int, str]:
    quoted = conn.ops.quote_name(table)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(PG_DIGEST.format(table=quoted))
            count, total = cursor.fetchone()
            return int(count), str(total)
        cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - a table name from the catalogue, quoted
        count = 0
        summed = 0
        for row in _rows(cursor):
            count += 1
            summed += _row_hash(tuple(row))
        return count, str(summed)


def _rows(cursor: Any) -> Iterator[tuple[Any, ...]]:
    while batch := cursor.fetchmany(2000):
        yield from batch


def sequences(conn: BaseDatabaseWrapper) -> dict[str, str]:
    """Each sequence's current value (PostgreSQL's sequences, SQLite's AUTOINCREMENT counters)."""
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()"
            )
        else:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
            if not cursor.fetchone()[0]:
                return {}
            cursor.execute("SELECT name, seq FROM sqlite_sequence")
        return {name: str(value) for name, value in cursor.fetchall()}


def media_digest(root: Path | None) -> dict[str, str]:
    if root is None or not root.is_dir():
        return {}
    return {
        str(path.relative_to(root)): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def database_digest() -> dict[str, Any]:
    """Everything the comparison looks at, for the database and media of the current settings."""
    tables = {table: _table_digest(connection, table) for table in user_tables(connection)}
    return {
        "engine": engine(),
        "tables": {name: {"rows": rows, "digest": digest} for name, (rows, digest) in tables.items()},
        "sequences": sequences(connection),
        "media": media_digest(media_root()),
    }


# --- Comparison ----------------------------------------------------------------------------------------


def _line(ok: bool, kind: str, name: str, detail: str) -> str:
    return f"{'OK  ' if ok else 'DIFF'} {kind:8} {name:48} {detail}"


def _compare_tables(source: dict[str, Any], restored: dict[str, Any]) -> list[tuple[bool, str]]:
    out = []
    for name in sorted(set(source) | set(restored)):
        a, b = source.get(name), restored.get(name)
        if a is None or b is None:
            out.append(
                (False, _line(False, "table", name, "only in the " + ("restore" if a is None else "source")))
            )
            continue
        same = a == b
        rows = f"{a['rows']} rows" + ("" if a["rows"] == b["rows"] else f" → {b['rows']} rows")
        digest = a["digest"][-12:] + ("" if a["digest"] == b["digest"] else f" → {b['digest'][-12:]}")
        detail = f"{rows}, digest …{digest}"
        out.append((same, _line(same, "table", name, detail)))
    return out


def _compare_values(kind: str, source: dict[str, str], restored: dict[str, str]) -> list[tuple[bool, str]]:
    out = []
    for name in sorted(set(source) | set(restored)):
        a, b = source.get(name, "missing"), restored.get(name, "missing")
        detail = a if a == b else f"{a} → {b}"
        out.append((a == b, _line(a == b, kind, name, detail[:40] if kind == "media" else detail)))
    return out


def compare(source: dict[str, Any], restored: dict[str, Any]) -> tuple[list[str], int]:
    """One line per table, sequence and media file; the number of differences."""
    results = [
        (
            source["engine"] == restored["engine"],
            _line(source["engine"] == restored["engine"], "engine", source["engine"], restored["engine"]),
        )
    ]
    results += _compare_tables(source["tables"], restored["tables"])
    results += _compare_values("sequence", source["sequences"], restored["sequences"])
    results += _compare_values("media", source["media"], restored["media"])
    if not source["tables"]:
        results.append(
            (False, _line(False, "table", "(none)", "the source has no table: nothing was compared"))
        )
    differences = sum(1 for ok, _ in results if not ok)
    summary = (
        f"{len(source['tables'])} tables, {sum(t['rows'] for t in source['tables'].values())} rows, "
        f"{len(source['sequences'])} sequences, {len(source['media'])} media files: "
        f"{differences} difference(s)"
    )
    return [line for _, line in results] + [summary], differences


def load_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


def dump_json(value: Any, path: Path | str) -> None:
    Path(path).write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")
