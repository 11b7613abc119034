"""``glocal check``: configuration and connectivity, one line per check, exit status 1 when one fails.

    glocal check                  database, migrations, cache, broker, SMTP, SMS, public URL,
                                  data and media directories, worker heartbeat, Django's system checks
    glocal check --deploy         the same, judged as production (https public URL, Django's deploy checks)
    glocal check --skip worker    leave checks out (here: before the worker is started)

The checks are in glocal/core/install_checks.py; docs/operations.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from glocal.core import install_checks


class Command(BaseCommand):
    help = "Check the configuration and connectivity (database, cache, broker, SMTP, SMS, …), one line each."
    requires_system_checks: list[str] = []  # they are one of this command's checks
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--deploy", action="store_true", help="Judge as production (also the default in production)."
        )
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=sorted(install_checks.CHECKS),
            help="Leave a check out (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        deploy = options["deploy"] or install_checks.production()
        results = install_checks.run(deploy=deploy, skip=set(options["skip"]))
        for result in results:
            style = {
                install_checks.OK: self.style.SUCCESS,
                install_checks.WARN: self.style.WARNING,
                install_checks.FAIL: self.style.ERROR,
            }[result.status]
            self.stdout.write(style(result.line()))
        failed = [r for r in results if r.status == install_checks.FAIL]
        if failed:
            raise CommandError(
                f"{len(failed)} check(s) failed: {', '.join(dict.fromkeys(r.name for r in failed))}",
                returncode=1,
            )
