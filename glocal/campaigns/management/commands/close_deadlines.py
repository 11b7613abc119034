"""``glocal close_deadlines [--org SLUG]``: apply every passed operation deadline (opt-in stores that
did not answer are out; HQ defaults for stores that did not personalise). Idempotent: schedule it
every few minutes (cron / Celery beat); the worker's tick makes the same check (pages never do)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from glocal.campaigns import services
from glocal.core.scope import activate
from glocal.network.models import Organisation


class Command(BaseCommand):
    help = "Apply the operation deadlines that have passed (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organisation slug (default: every organisation)")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organisation.objects.order_by("pk")
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
        for org in orgs:
            with activate(services.system_scope(org.pk)):
                stats = services.close_deadlines()
            self.stdout.write(
                f"{org.slug}: {stats['out']} stores out, {stats['defaults']} HQ defaults applied"
            )
