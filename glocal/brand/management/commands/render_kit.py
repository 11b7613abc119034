from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from glocal.brand.kit import render_kit
from glocal.core.scope import activate, system_scope
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Entity, Organisation


class Command(BaseCommand):
    help = (
        "Render published templates for stores: email (HTML + text), SMS, print PDF and social PNGs, "
        "one folder per store. Example: render_kit --template all --stores all --out kit/"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--template", nargs="+", required=True, help="template ids, or 'all' (published)")
        parser.add_argument("--stores", nargs="+", default=["all"], help="store codes, or 'all'")
        parser.add_argument("--out", required=True, help="output directory")
        parser.add_argument("--org", help="organisation slug (default: the only one)")
        parser.add_argument("--bleed", action="store_true", help="print PDFs with bleed and crop marks")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organisation.objects.all()
        org = (
            orgs.filter(slug=options["org"]).first()
            if options["org"]
            else (orgs.first() if orgs.count() == 1 else None)
        )
        if org is None:
            slugs = ", ".join(orgs.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"Choose the organisation with --org SLUG (one of: {slugs}).")
        hq = Entity.unscoped.get(organisation=org, parent__isnull=True)  # the command acts as the HQ admin
        scope = system_scope(org.pk, root=hq)
        with activate(scope):
            published = ChannelTemplate.objects.filter(status=ChannelTemplate.Status.PUBLISHED).order_by("pk")
            if options["template"] != ["all"]:
                ids = [int(t) for t in options["template"] if t.isdigit()]
                published = published.filter(pk__in=ids)
                missing = set(ids) - set(published.values_list("pk", flat=True))
                if missing or not ids:
                    raise CommandError(
                        f"No published template with id {sorted(missing) or options['template']}."
                    )
            stores = None if options["stores"] == ["all"] else options["stores"]
            out = Path(options["out"])
            out.mkdir(parents=True, exist_ok=True)
            report = render_kit(list(published), stores, out, bleed=options["bleed"])
        store_dirs = {p.parent for p in report.files}
        self.stdout.write(
            self.style.SUCCESS(f"{len(report.files)} files for {len(store_dirs)} stores in {out}")
        )
        for error in report.errors:
            self.stderr.write(error)
