"""``glocal import-contacts FILE [--org SLUG] [--entity CODE] [--dry-run]``: the import wizard's
service from the command line. Prints the report; exits non-zero when rows are rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from glocal.audience import importer
from glocal.audience.models import AttributeDefinition
from glocal.core.roles import Role
from glocal.core.scope import Scope, activate
from glocal.network.models import Entity, Organisation


class Command(BaseCommand):
    help = "Import contacts from a CSV or XLSX file (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--org", help="organisation slug (default: the only one)")
        parser.add_argument(
            "--entity",
            help="import as this entity (a store imports its own contacts; default: head office)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument("--wording", default="", help="consent wording the people agreed to")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        org = _organisation(options["org"])
        entity = _entity(org, options["entity"])
        # The command line acts as the organisation's HQ admin on the chosen node (operator tool).
        scope = Scope(
            organisation_id=org.pk, entity_id=entity.pk, entity_path=entity.path, role=Role.HQ_ADMIN
        )
        with activate(scope):
            report = self._import(path, wording=options["wording"], dry_run=options["dry_run"])
        self._print_errors(report)
        summary = (
            f"{report.total_rows} rows: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.consents} consents recorded, "
            f"{report.consent_refused} refused (opposition list)"
        )
        if report.file_errors:
            raise CommandError(f"{report.file_errors[0]} Nothing was written.")
        if not report.ok:
            raise CommandError(f"{report.error_count} rows rejected; nothing was written.")
        self.stdout.write(("Dry run, nothing written. " if options["dry_run"] else "") + summary)

    def _import(self, path: Path, *, wording: str, dry_run: bool) -> importer.ImportReport:
        """Map the columns by their headers (printed), then run the import in the active scope."""
        source = f"file:{path.resolve()}"
        try:
            found = importer.preview(source, path.name)
        except importer.FileError as exc:
            raise CommandError(str(exc)) from exc
        header = found.header
        if found.encoding:
            self.stdout.write(f"encoding: {found.encoding}")
        mapping = importer.guess_mapping(header, list(AttributeDefinition.objects.all()))
        for column, target in zip(header, mapping, strict=False):
            self.stdout.write(f"  {column!r:30} → {target or '(ignored)'}")
        plan = importer.Plan(source=source, filename=path.name, mapping=mapping, wording=wording)
        return importer.import_contacts(plan, dry_run=dry_run)

    def _print_errors(self, report: importer.ImportReport) -> None:
        for message in report.file_errors:
            self.stderr.write(f"file: {message}")
        for error in report.errors:
            self.stderr.write(f"row {error.row} {error.code}: {'; '.join(error.messages)}")
        if report.error_count > len(report.errors):
            self.stderr.write(f"… and {report.error_count - len(report.errors)} more rows with errors")


def _organisation(slug: str | None) -> Organisation:
    """The organisation named by ``--org``, or the only one."""
    orgs = Organisation.objects.all()
    if slug:
        orgs = orgs.filter(slug=slug)
    if orgs.count() != 1:
        raise CommandError("Give --org SLUG (the organisation is unknown or ambiguous).")
    return orgs.get()


def _entity(org: Organisation, code: str | None) -> Entity:
    """The node named by ``--entity``, or the head office."""
    entities = Entity.unscoped.filter(organisation=org)
    entity = entities.filter(code=code).first() if code else entities.filter(parent__isnull=True).first()
    if entity is None:
        raise CommandError(f"Unknown entity {code!r} in {org.slug}.")
    return entity
