"""Render templates for many stores at once: every store's own email, SMS, PDF and social image.

Used by the ``render_kit`` command (and its tests). Runs in an HQ scope; each store gets its stored
personalisation (or the defaults) and its own details; email variants are compiled once per store
(never per recipient), as in a send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glocal.creatives import rendering
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.models import ChannelTemplate, TemplateVersion
from glocal.network.models import Entity

from . import printing

PREVIEW_LINKS = {
    "unsubscribe_url": "https://example.invalid/unsubscribe/kit",
    "view_online_url": "https://example.invalid/view/kit",
}


@dataclass
class KitReport:
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    page_sizes: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def kit_recipient() -> dict[str, Any]:
    recipient = rendering.sample_recipient()
    recipient.update({"address": "12 rue des Lilas", "postcode": "59000"})
    return recipient


def render_store(
    version: TemplateVersion, store: Entity, out: Path, *, bleed: bool, report: KitReport
) -> None:
    template = version.template
    variant = creative_selectors.build_variant(
        version, store, creative_selectors.stored_values(version, store)
    )
    stem = out / store.code / f"{template.pk}-{template.channel}"
    stem.parent.mkdir(parents=True, exist_ok=True)

    def write(suffix: str, data: bytes | str) -> None:
        path = stem.with_name(stem.name + suffix)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        report.files.append(path)

    recipient = kit_recipient()
    if template.channel == "print":
        kit, images = printing.variant_assets(variant)
        try:
            result = printing.render_print(
                variant, recipient, PREVIEW_LINKS, kit=kit, images=images, bleed=bleed
            )
        except Exception as exc:  # noqa: BLE001 - reported per store, the kit goes on
            report.errors.append(f"{store.code} {template.pk}: {exc}")
            return
        write(".pdf", result.pdf)
        report.page_sizes[f"{store.code}/{template.pk}"] = printing.media_boxes(result.pdf)
        for finding in printing.check_print(result):
            report.errors.append(f"{store.code} {template.pk}: {finding.text}")
        return
    if template.channel == "social":
        rendered = rendering.render_variant(variant, recipient, PREVIEW_LINKS)
        post = getattr(rendered, "post", None)
        if rendered.errors or post is None:
            report.errors.extend(f"{store.code} {template.pk}: {e}" for e in rendered.errors)
            return
        write(".txt", post.caption)
        for fmt, png in post.images.items():
            write(f"-{fmt}.png", png)
        return
    rendered = rendering.render_variant(variant, recipient, PREVIEW_LINKS)
    if rendered.errors:
        report.errors.extend(f"{store.code} {template.pk}: {e}" for e in rendered.errors)
        return
    if template.channel == "email":
        write(".html", rendered.html)
        write(".txt", f"Subject: {rendered.subject}\n\n{rendered.text}\n")
    else:
        write(".txt", rendered.text + "\n")


def render_kit(
    templates: list[ChannelTemplate], stores: list[str] | None, out: Path, *, bleed: bool = False
) -> KitReport:
    report = KitReport()
    for template in templates:
        version = template.published_version()
        if version is None:
            report.errors.append(f"{template.pk}: no published version")
            continue
        candidates = creative_selectors.personalisable_stores(template)
        if stores:
            candidates = candidates.filter(code__in=stores)
        for store in candidates:
            render_store(version, store, out, bleed=bleed, report=report)
    return report
