"""``glocal campaign_reminders [--org SLUG]``: remind stores before subscription and personalisation
deadlines, and approvers before a proof's due date. Never two reminders for the same deadline."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from glocal.campaigns import services
from glocal.core.scope import activate
from glocal.network.models import Organisation


class Command(BaseCommand):
    help = "Send the reminders due before deadlines (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organisation slug (default: every organisation)")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organisation.objects.order_by("pk")
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
        for org in orgs:
            with activate(services.system_scope(org.pk)):
                stats = services.send_reminders()
            self.stdout.write(
                f"{org.slug}: {stats['subscription']} subscription, "
                f"{stats['personalisation']} personalisation, {stats['approval']} approval reminders"
            )
