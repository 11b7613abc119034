"""``glocal backup_tool …``: the application's side of deploy/backup.sh, restore.sh and
backup-roundtrip.sh (docs/backup.md). Not meant to be typed by hand, but safe to run.

  info --output FILE            shell variables: engine, libpq PG* settings, SQLite file, media directory
  migrations --output FILE      the applied migrations (read before the dump)
  sqlite-backup FILE            online copy of the SQLite database into FILE (backup API)
  sqlite-restore FILE           copy FILE into the configured SQLite database (backup API)
  manifest DIR --before FILE    write DIR/manifest.json and DIR/SHA256SUMS
  check DIR                     may this code restore DIR? (exit 2 when the backup is newer than the code)
  digest --output FILE          row count and digest of every table, sequences, media files
  compare SOURCE RESTORED       one line per table; exit 1 on any difference
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from glocal.core import backup


class Command(BaseCommand):
    help = "Backup helpers used by the deploy/backup.sh, restore.sh and backup-roundtrip.sh scripts."
    requires_system_checks: list[str] = []  # a backup must not depend on the pages' checks

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("info").add_argument("--output", required=True)
        sub.add_parser("migrations").add_argument("--output", required=True)
        sub.add_parser("sqlite-backup").add_argument("file")
        sub.add_parser("sqlite-restore").add_argument("file")
        manifest = sub.add_parser("manifest")
        manifest.add_argument("directory")
        manifest.add_argument("--before", required=True)
        manifest.add_argument("--version-label", default="")
        sub.add_parser("check").add_argument("directory")
        sub.add_parser("digest").add_argument("--output", required=True)
        compare = sub.add_parser("compare")
        compare.add_argument("source")
        compare.add_argument("restored")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"do_{action}")(options)

    def do_info(self, options: dict[str, Any]) -> None:
        Path(options["output"]).write_text(backup.shell_assignments(backup.target_env()))

    def do_migrations(self, options: dict[str, Any]) -> None:
        backup.dump_json(backup.applied_migrations(), options["output"])

    def do_sqlite_backup(self, options: dict[str, Any]) -> None:
        self._sqlite_only()
        from django.conf import settings

        backup.sqlite_copy(settings.DATABASES["default"]["NAME"], options["file"])

    def do_sqlite_restore(self, options: dict[str, Any]) -> None:
        self._sqlite_only()
        from django.conf import settings
        from django.db import connection

        connection.close()  # the target file is written by SQLite's backup API, not through Django
        backup.sqlite_copy(options["file"], settings.DATABASES["default"]["NAME"])

    def do_manifest(self, options: dict[str, Any]) -> None:
        before = [(app, name) for app, name in backup.load_json(options["before"])]
        try:
            manifest = backup.write_manifest(
                Path(options["directory"]), version_label=options["version_label"], before=before
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        migrations = manifest["migrations"]["summary"]
        self.stdout.write(
            f"Manifest: {len(manifest['files'])} files, "
            f"{sum(m['applied'] for m in migrations.values())} migrations applied in {len(migrations)} apps."
        )

    def do_check(self, options: dict[str, Any]) -> None:
        result = backup.check_manifest(Path(options["directory"]))
        for problem in result.problems:
            self.stderr.write(f"Refused: {problem}")
        if result.newer:
            names = ", ".join(f"{app}.{name}" for app, name in result.newer)
            self.stderr.write(
                "Refused: the backup was made by a newer Glocal; this code does not know the migrations "
                f"{names}. Install the version that made it (see its manifest.json), restore, then upgrade."
            )
        if not result.ok:
            raise CommandError("The backup cannot be restored by this code.", returncode=2)
        if result.pending:
            self.stdout.write(
                f"The code has {len(result.pending)} migration(s) newer than the backup: "
                "run `glocal migrate` after the restore."
            )
        self.stdout.write("Backup checked: files intact, migrations known to this code.")

    def do_digest(self, options: dict[str, Any]) -> None:
        backup.dump_json(backup.database_digest(), options["output"])

    def do_compare(self, options: dict[str, Any]) -> None:
        lines, differences = backup.compare(
            backup.load_json(options["source"]), backup.load_json(options["restored"])
        )
        for line in lines:
            self.stdout.write(line)
        if differences:
            raise CommandError(
                f"The restore differs from its source in {differences} place(s).", returncode=1
            )

    @staticmethod
    def _sqlite_only() -> None:
        if backup.engine() != "sqlite":
            raise CommandError("This database is not SQLite.")
