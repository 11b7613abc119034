import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from glocal.core.scope import activate, system_scope
from glocal.network.importer import import_network
from glocal.network.models import Entity, Organisation


class Command(BaseCommand):
    help = "Import entities from a CSV file into an organisation (all or nothing). Exits 1 on bad rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", help="Organisation slug (needed when there are several).")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organisation.objects.all()
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
        if orgs.count() != 1:
            raise CommandError("Name one organisation with --org SLUG.")
        org = orgs.get()
        root = Entity.unscoped.get(organisation=org, parent__isnull=True)
        try:
            handle = options["file"].open("rb")  # read as a stream, never whole
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        # The command line acts as the organisation's HQ admin.
        scope = system_scope(org.pk, root=root)
        with handle, activate(scope):
            report = import_network(handle, dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            if report.encoding:
                self.stdout.write(f"encoding: {report.encoding}")
            for message in report.file_errors:
                self.stderr.write(f"file: {message}")
            for error in report.errors:
                self.stderr.write(f"row {error.row} ({error.code or '-'}): {'; '.join(error.messages)}")
            self.stdout.write(
                f"{report.total_rows} rows: {report.created} created, {report.updated} updated, "
                f"{report.moved} moved, {report.unchanged} unchanged, {report.error_count} rejected"
                + (" (dry run, nothing written)" if report.dry_run else "")
                + ("" if report.ok else " — nothing written")
            )
        if not report.ok:
            raise SystemExit(1)
