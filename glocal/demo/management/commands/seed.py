from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from glocal.demo.seed import DEMO_PASSWORD, seed_demo
from glocal.network.models import Organisation


class Command(BaseCommand):
    help = "Create the demo network: a deterministic French retail network with a user for every role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stores", type=int, default=30)
        parser.add_argument("--regions", type=int, default=None)
        parser.add_argument("--contacts", type=int, default=0)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when data already exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stores"] < 1:
            raise CommandError("--stores must be at least 1.")
        if Organisation.objects.exists():
            if options["if_empty"]:
                self.stdout.write("Demo data already present; nothing seeded.")
                return
            raise CommandError("The database already holds organisations; seed a fresh database.")
        result = seed_demo(
            stores=options["stores"],
            regions=options["regions"],
            seed=options["seed"],
            contacts=options["contacts"],
        )
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {result.organisation.name}: {result.entities} entities.")
        )
        self.stdout.write(f"Logins (password: {DEMO_PASSWORD}):")
        for email, role, entity in result.users:
            self.stdout.write(f"  {email:32} {role:22} {entity}")
