"""``glocal purge-prospect-lists [--org SLUG] [--dry-run]``: purge the external prospect lists whose
campaign is over (purge date passed), recording each purge. Schedule it daily (cron / Celery beat)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from glocal.core.scope import activate, system_scope
from glocal.network.models import Organisation
from glocal.targeting import prospects


class Command(BaseCommand):
    help = "Purge the external prospect lists whose campaign is over."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organisation slug (default: every organisation)")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organisation.objects.order_by("pk")
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
        for org in orgs:
            # Operator tool: acts as the organisation's HQ (root node) over all its lists.
            scope = system_scope(org.pk)
            with activate(scope):
                if options["dry_run"]:
                    count = prospects.due_lists().count()
                    self.stdout.write(f"{org.slug}: {count} lists due for purge (dry run)")
                else:
                    done = prospects.purge_due_lists()
                    self.stdout.write(
                        f"{org.slug}: {done['lists']} lists purged, {done['rows']} rows deleted"
                    )
