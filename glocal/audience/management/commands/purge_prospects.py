"""``glocal purge-prospects [--org SLUG] [--dry-run]``: delete the prospects inactive for longer than
each organisation's retention period (default 3 years, CNIL). Schedule it daily (cron / Celery beat)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from glocal.audience import services
from glocal.core.scope import activate, system_scope
from glocal.network.models import Organisation


class Command(BaseCommand):
    help = "Delete prospects inactive for longer than the retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organisation slug (default: every organisation)")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organisation.objects.order_by("pk")
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
        for org in orgs:
            # Operator tool: acts as the organisation's HQ (root node) over its whole audience.
            scope = system_scope(org.pk)
            with activate(scope):
                if options["dry_run"]:
                    count = services.inactive_prospects().count()
                    self.stdout.write(f"{org.slug}: {count} prospects past retention (dry run)")
                else:
                    count = services.purge_inactive_prospects()
                    self.stdout.write(f"{org.slug}: {count} prospects deleted")
