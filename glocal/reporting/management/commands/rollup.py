"""``glocal rollup [--rebuild]``: bring the reporting rollups up to date now (``--rebuild``: forget them
and count everything again, attribution included)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from glocal.reporting import rollup


class Command(BaseCommand):
    help = "Update the reporting rollups from new events, purchases and spend (--rebuild: from scratch)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="Count everything again from the raw rows."
        )
        parser.add_argument(
            "--settled", action="store_true", help="Take even the rows written in the last minute."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # --settled: a script that just wrote its rows (the demo's seed) counts them at once.
        settle = 0 if options["settled"] else None
        done = rollup.rebuild(settle=settle) if options["rebuild"] else rollup.run(settle=settle)
        self.stdout.write(", ".join(f"{source}: {n}" for source, n in done.items()))
