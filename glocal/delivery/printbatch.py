"""Print deliveries: the direct-mail batch of a print campaign and a store's print kit (a store's social
export, which picks its templates and writes its zip with the helpers below, is :mod:`.social`).

Direct mail (:func:`direct_mail_batch`, job ``delivery.direct_mail``): the campaign's recipients on the
postal channel (``campaigns.audience.recipients``: postal consent, a postal address, not on the
opposition list, not removed by the store), one letter each, merged into ONE PDF for the printer, with a
CSV manifest (sequence, pages, contact, address) — both in a zip kept in the default storage (under the
data directory, like uploads) and served by a scoped view only.

How the PDF is made, fast: the variant (template version × store × content) is prepared once — the
compiled source, the brand kit, the images, the QR code, the store context. Per recipient only the small
sandboxed body render (and the address block) is left; when the source does not name ``recipient`` at
all, the body is rendered once for everybody. Letters are laid out by WeasyPrint a hundred at a time in
one HTML document each (one ``<section>`` per letter, starting a page, at least one page high, with the
address block at the window-envelope position inside it), the sections' anchors give each letter's
pages, and the pages of every document are written as one PDF (WeasyPrint's ``Document.copy``; images go
through one cache: a photo is read and decoded once, and embedded once). A source that depends on the
page itself (``position: fixed``, page counters, running elements, HQ's own ``@page`` rules) gets one
document per letter instead, which keeps each letter exactly as
:func:`glocal.brand.printing.render_print` lays it out. Measured (2 shared cores, load ≈ 2, one-page
letter): 100 letters per document ≈ 15 ms a letter (1,000 letters ≈ 15 s, 3,000 ≈ 58 s at load 3.5, ~520
MB peak: the laid-out pages are held until the PDF is written); 25 per document ≈ 19 ms, all 1,000 in
one document ≈ 27 ms, one per letter ≈ 24 ms. WeasyPrint's layout and PDF writing are ~95 % of the time.

Kits (:func:`store_print_kit`; the social export: :func:`glocal.delivery.social.store_social_export`):
zips of a store's posters, flyers and point-of-sale cards (PDF, HQ's bleed and marks) or social posts
(square and story PNGs, caption), each rendered with the store's own details and personalisation, and a
``contents.csv`` listing the files and the print checks. Cells of every CSV start-neutralised
(COMPLIANCE.md: = + - @ tab NUL).

Everything runs in the active scope: the campaign, the store, the templates and the images are read
through scoped managers.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from markupsafe import Markup, escape

from glocal.audience.models import Contact
from glocal.brand import kit as brand_kit
from glocal.brand import printing
from glocal.campaigns import audience
from glocal.campaigns.models import Campaign, Operation
from glocal.campaigns.states import State
from glocal.core import audit, jobs
from glocal.core.language import recipient_language, speaking
from glocal.core.models import ACTION_LABELS, Job
from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope
from glocal.creatives import rendering
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.models import Channel, ChannelTemplate, TemplateVersion, ancestor_ids_of_path
from glocal.creatives.sandbox import RenderError, render
from glocal.network.models import Entity

log = logging.getLogger(__name__)

JOB_KIND = "delivery.direct_mail"
AUDIT_START = "delivery.direct_mail"
AUDIT_DOWNLOAD = "delivery.direct_mail_download"
STORAGE_DIR = "delivery/direct-mail"
LETTERS_PER_DOCUMENT = 100
# Content that passed its approval (BAT): the only one a printer may get.
PRINTABLE_STATES = (State.APPROVED, State.SCHEDULED, State.SENDING, State.SENT)
UNFINISHED = (Job.Status.QUEUED, Job.Status.RUNNING)

NOT_PRINT = _("Direct mail is made from print campaigns only.")
NOT_LETTER = _(
    "This print template is not a direct-mail letter (format=letter): use the store's print kit instead."
)
NOT_APPROVED = _(
    "Direct mail is printed from approved content only: the campaign must be approved, scheduled, "
    "sending or sent."
)
NO_RECIPIENTS = _(
    "Nobody can receive this letter: no contact has postal consent and a postal address while being "
    "off the opposition list."
)
LETTER_SKIPPED = _("A direct-mail letter: printed per recipient from its campaign's direct-mail page.")

ACTION_LABELS.update(
    {
        AUDIT_START: _("started a direct-mail batch"),
        AUDIT_DOWNLOAD: _("downloaded a direct-mail batch"),
    }
)

MANIFEST_HEADER = [
    "sequence",
    "first_page",
    "last_page",
    "contact_id",
    "name",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
]
CONTENTS_HEADER = ["file", "template", "version", "format", "pages", "problems"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\x00")
# A source whose layout depends on the page itself cannot share a document with other letters.
PAGE_DEPENDENT = re.compile(
    r"position\s*:\s*fixed|counter\(\s*pages?\s*\)|running\(|element\(|string-set|@page", re.I
)
STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.I | re.S)
ANCHOR_PREFIX = "glocal-letter-"
LETTER_CSS = (
    "<style>.glocal-letter {{ position: relative; display: flow-root; min-height: {h}mm; "
    "break-after: page; }} .glocal-letter:last-child {{ break-after: auto; }}</style>"
)


# -- pure helpers --------------------------------------------------------------------------------


def neutralise_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: a leading = + - @ tab, CR or NUL gets a quote before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_bytes(header: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with a BOM (spreadsheets then read the accents right), CRLF, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise_cell(cell) for cell in row])
    return out.getvalue().encode("utf-8-sig")


def pack_zip(files: dict[str, bytes], out: BinaryIO | None = None) -> bytes:
    """A zip of ``files`` (name → bytes), written to ``out`` when given (then ``b""`` is returned).
    PDFs and PNGs are already compressed: stored as they are; text is deflated."""
    if out is None:
        buffer = io.BytesIO()
        pack_zip(files, buffer)
        return buffer.getvalue()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            packed = name.endswith((".pdf", ".png"))
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED)
    return b""


def needs_own_document(source: str) -> bool:
    """True when a letter must be laid out alone (fixed boxes, page counters, HQ's ``@page`` rules)."""
    return bool(PAGE_DEPENDENT.search(source))


def hoist_styles(bodies: list[str]) -> tuple[str, list[str]]:
    """The ``<style>`` blocks of the bodies, each distinct one once (in order), and the bodies without
    them: a thousand copies of HQ's stylesheet would make the cascade a thousand times slower."""
    seen: dict[str, None] = {}
    stripped = []
    for body in bodies:
        for block in STYLE_BLOCK.findall(body):
            seen.setdefault(block, None)
        stripped.append(STYLE_BLOCK.sub("", body))
    return "".join(seen), stripped


def contact_recipient(contact: Contact) -> dict[str, Any]:
    """The ``recipient`` of a letter: the fields a letter may print (no email, no phone)."""
    attributes = contact.attributes if isinstance(contact.attributes, dict) else {}
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "address": contact.address_line1,
        "address_line2": contact.address_line2,
        "postcode": contact.postcode,
        "city": contact.city,
        "country": contact.country,
        "loyalty_points": str(attributes.get("loyalty_points", "")),
    }


def letter_address_lines(recipient: dict[str, Any], home_country: str) -> list[str]:
    """The window-envelope block: printing's lines (at most 6 of 38 characters, "POSTCODE TOWN" in
    capitals), the last being the country when it is abroad."""
    country = printing.postal_capitals(str(recipient.get("country", "") or ""))
    if country and country != (home_country or "").upper():
        return [*printing.address_lines(recipient, max_lines=printing.ADDRESS_LINES - 1), country]
    return printing.address_lines(recipient)


def page_span_text(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


# -- direct mail ---------------------------------------------------------------------------------


@dataclass
class ManifestRow:
    sequence: int
    first_page: int
    last_page: int
    contact_id: int
    name: str
    address_line1: str
    address_line2: str
    postcode: str
    city: str
    country: str

    def cells(self) -> list[Any]:
        return [
            self.sequence,
            self.first_page,
            self.last_page,
            self.contact_id,
            self.name,
            self.address_line1,
            self.address_line2,
            self.postcode,
            self.city,
            self.country,
        ]


@dataclass
class BatchResult:
    campaign_id: int
    letters: int = 0
    pages: int = 0
    documents: int = 0  # WeasyPrint documents laid out (≈ letters / 100, or one per letter)
    page_size_mm: tuple[float, float] = (0.0, 0.0)
    rows: list[ManifestRow] = field(default_factory=list)
    pdf_size: int = 0
    zip_size: int = 0
    zip_bytes: bytes = b""  # when no ``out`` was given
    refused: list[str] = field(default_factory=list)
    fonts_embedded: bool = True
    seconds: float = 0.0


def direct_mail_problems(campaign: Campaign) -> list[str]:
    """Why this campaign cannot be printed as direct mail now (empty: it can)."""
    if campaign.channel != Channel.PRINT:
        return [str(NOT_PRINT)]
    problems = []
    if not printing.parse_options(campaign.version.source).page.letter:
        problems.append(str(NOT_LETTER))
    if campaign.state not in PRINTABLE_STATES:
        problems.append(str(NOT_APPROVED))
    return problems


def letter_recipients(campaign: Campaign, contact_ids: list[int] | None = None) -> QuerySet[Contact]:
    """Who gets a letter, in postal order (country, postcode, city, name): the campaign's recipients on
    the postal channel, optionally narrowed to ``contact_ids`` (e.g. the engine's arbitrated outbox)."""
    qs = audience.recipients(
        campaign.entity.path, campaign.audience_criteria, campaign.channel, list(campaign.excluded_contacts)
    )
    if contact_ids is not None:
        qs = qs.filter(pk__in=contact_ids)
    return qs.order_by("country", "postcode", "city", "last_name", "first_name", "pk").only(
        "pk",
        "first_name",
        "last_name",
        "address_line1",
        "address_line2",
        "postcode",
        "city",
        "country",
        "attributes",
        "language",
    )


def _base_context(
    variant: rendering.Variant, kit: dict[str, Any], images: dict[str, Any], options: printing.PrintOptions
) -> dict[str, Any]:
    """What :func:`printing.render_print` gives the source, minus the recipient: computed once."""
    store = variant.store
    qr_url = ""
    if options.qr == "store":
        qr_url = store.get("website") or store.get("map_url", "")
    elif options.qr == "offer":
        qr_url = str(variant.values.get("offer_url", "")) or store.get("website", "")
    page = options.page
    return {
        **variant.context(html=True),
        "brand": kit,
        "images": images,
        "qr": printing.qr_data_uri(qr_url) if qr_url.startswith(("http://", "https://")) else "",
        "qr_url": qr_url,
        "page": {"format": page.key, "width_mm": page.width_mm, "height_mm": page.height_mm},
    }


def _document_html(options: printing.PrintOptions, kit: dict[str, Any], body: str) -> str:
    """printing's page (size, bleed, marks, fonts, brand variables, the window CSS) around ``body``."""
    page = options.page
    return printing.PAGE_TEMPLATE.format(
        w=page.width_mm,
        h=page.height_mm,
        bleed=f" bleed: {options.bleed_mm}mm;" if options.bleed_mm else "",
        marks=" marks: crop cross;" if options.marks else "",
        fonts=printing._css_fonts(list(kit.get("fonts", []))),
        primary=kit.get("primary", "#1f5135"),
        secondary=kit.get("secondary", "#ffffff"),
        accent=kit.get("accent", "#b3261e"),
        wl=printing.WINDOW["left"],
        wt=printing.WINDOW["top"],
        ww=printing.WINDOW["width"],
        wh=printing.WINDOW["height"],
        # The kit's uploaded fonts as @font-face rules, as on a single print render.
        body=printing._font_faces(kit) + LETTER_CSS.format(h=page.height_mm) + body,
        address="",
    )


def _section(sequence: int, body: str, lines: list[str]) -> str:
    address = Markup("<br>").join(escape(line) for line in lines)
    return (
        f'<section class="glocal-letter" id="{ANCHOR_PREFIX}{sequence}">{body}'
        f'<div class="glocal-address" data-role="address">{address}</div></section>'
    )


def letter_spans(document: Any, sequences: list[int]) -> dict[int, tuple[int, int]]:
    """Each letter's first and last page (0-based, in ``document``) from its section's anchor."""
    first: dict[int, int] = {}
    for index, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor.startswith(ANCHOR_PREFIX):
                first.setdefault(int(anchor[len(ANCHOR_PREFIX) :]), index)
    missing = [s for s in sequences if s not in first]
    if missing:
        raise RuntimeError(f"letters without a page: {missing[:5]}")
    spans: dict[int, tuple[int, int]] = {}
    for position, sequence in enumerate(sequences):
        end = first[sequences[position + 1]] - 1 if position + 1 < len(sequences) else len(document.pages) - 1
        spans[sequence] = (first[sequence], end)
    return spans


class _LetterBodies:
    """Each letter's body in its recipient's language (theirs, else the store's, else the
    organisation's): the variant (the store's details, its opening hours) is built once per language,
    and when the source does not name ``recipient`` one body serves every reader of that language."""

    def __init__(self, campaign: Campaign, variant: rendering.Variant, base: dict[str, Any]) -> None:
        self.campaign = campaign
        self.template = rendering._compiled(rendering.HTML_ENV, variant.source)
        self.by_recipient = "recipient" in variant.source
        self._variant = variant
        self._bases: dict[str, dict[str, Any]] = {variant.language: base}
        self._shared: dict[str, str] = {}

    def _base(self, language: str) -> dict[str, Any]:
        if language not in self._bases:
            campaign = self.campaign
            variant = creative_selectors.build_variant(
                campaign.version, campaign.entity, dict(campaign.values), language=language
            )
            self._bases[language] = {**self._bases[self._variant.language], **variant.context(html=True)}
        return self._bases[language]

    def body(self, contact: Contact, recipient: dict[str, Any]) -> str:
        language = recipient_language(contact, self.campaign.entity)
        if not self.by_recipient and language in self._shared:
            return self._shared[language]
        with speaking(language):
            body = render(self.template, {**self._base(language), "recipient": recipient})
        if not self.by_recipient:
            self._shared[language] = body
        return body


def direct_mail_batch(
    *,
    campaign: Campaign,
    out: BinaryIO | None = None,
    report: Callable[[int, int], None] | None = None,
    contact_ids: list[int] | None = None,
    letters_per_document: int = LETTERS_PER_DOCUMENT,
) -> BatchResult:
    """Render the campaign's letters into ONE PDF and the printer's manifest, packed in a zip.

    The zip (``letters.pdf``, ``manifest.csv``) is written to ``out`` when given, else returned in
    ``BatchResult.zip_bytes``. ``report(done, total)`` is called after each laid-out document. All or
    nothing: a render error or a refused campaign raises before anything is written to ``out``.
    Raises ``ValidationError`` (:func:`direct_mail_problems`, ``NO_RECIPIENTS``) or ``RenderError``."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    started = time.perf_counter()
    problems = direct_mail_problems(campaign)
    if problems:
        raise ValidationError(problems)
    contacts = list(letter_recipients(campaign, contact_ids))
    if not contacts:
        raise ValidationError(str(NO_RECIPIENTS))
    variant = creative_selectors.build_variant(campaign.version, campaign.entity, dict(campaign.values))
    options = printing.parse_options(variant.source)
    kit, images = printing.variant_assets(variant)
    letters = _LetterBodies(campaign, variant, _base_context(variant, kit, images, options))
    home_country = str(variant.store.get("country", "") or "FR")
    per_document = 1 if needs_own_document(variant.source) else max(1, letters_per_document)

    result = BatchResult(
        campaign_id=campaign.pk, page_size_mm=(options.page.width_mm, options.page.height_mm)
    )
    fetcher = printing.make_fetcher(result.refused, store=variant.store)
    font_config = FontConfiguration()
    image_cache: dict[str, Any] = {}  # one Image per URL for every document: embedded once
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    pages: list[Any] = []
    first_document: Any = None
    total = len(contacts)
    for start in range(0, total, per_document):
        chunk = contacts[start : start + per_document]
        bodies, lines, recipients = [], [], []
        for contact in chunk:
            recipient = contact_recipient(contact)
            bodies.append(letters.body(contact, recipient))
            lines.append(letter_address_lines(recipient, home_country))
            recipients.append(recipient)
        styles, bodies = hoist_styles(bodies)
        sequences = list(range(start + 1, start + len(chunk) + 1))
        sections = "".join(_section(s, b, ln) for s, b, ln in zip(sequences, bodies, lines, strict=True))
        document = HTML(
            string=_document_html(options, kit, styles + sections),
            base_url=printing.BASE_URL,
            url_fetcher=fetcher,
        ).render(font_config=font_config, cache=image_cache)
        spans = letter_spans(document, sequences)
        offset = len(pages) + 1  # pages are numbered from 1 in the manifest
        for sequence, contact, recipient in zip(sequences, chunk, recipients, strict=True):
            first, last = spans[sequence]
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
            result.rows.append(
                ManifestRow(
                    sequence=sequence,
                    first_page=offset + first,
                    last_page=offset + last,
                    contact_id=contact.pk,
                    name=name,
                    address_line1=recipient["address"],
                    address_line2=recipient["address_line2"],
                    postcode=recipient["postcode"],
                    city=recipient["city"],
                    country=recipient["country"],
                )
            )
        pages.extend(document.pages)
        first_document = first_document or document
        result.documents += 1
        if report is not None:
            report(start + len(chunk), total)
    pdf = first_document.copy(pages).write_pdf()
    described, embedded = printing.font_report(pdf)
    result.fonts_embedded = described == embedded
    result.letters, result.pages, result.pdf_size = total, len(pages), len(pdf)
    files = {"letters.pdf": pdf, "manifest.csv": csv_bytes(MANIFEST_HEADER, (r.cells() for r in result.rows))}
    if out is not None:
        before = out.tell() if out.seekable() else 0
        pack_zip(files, out)
        result.zip_size = (out.tell() - before) if out.seekable() else 0
    else:
        result.zip_bytes = pack_zip(files)
        result.zip_size = len(result.zip_bytes)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def download_name(campaign: Campaign) -> str:
    return f"direct-mail-{campaign.pk}-{slugify(campaign.entity.code) or 'store'}.zip"


def direct_mail_downloaded(*, campaign: Campaign, job: Job) -> None:
    """Record that a finished batch (its recipients' names and addresses) was downloaded."""
    audit.record(
        action=AUDIT_DOWNLOAD,
        summary=f"{campaign.name}: direct mail downloaded",
        entity_id=campaign.entity_id,
        data={"campaign": campaign.pk, "job": job.pk},
    )


def direct_mail_start(*, campaign: Campaign) -> Job:
    """Queue the direct-mail batch of ``campaign`` in the active scope (its launcher's) and audit it.

    A batch of the same campaign already queued or running is returned instead of a second one."""
    scope = get_scope()
    if not role_allows(scope.role, Action.CAMPAIGN_SUBMIT):
        raise PermissionDenied
    problems = direct_mail_problems(campaign)
    if problems:
        raise ValidationError(problems)
    pending = batches_for(campaign).filter(status__in=UNFINISHED).first()
    if pending is not None:
        return pending
    count = letter_recipients(campaign).count()
    if not count:
        raise ValidationError(str(NO_RECIPIENTS))
    job = jobs.enqueue(
        JOB_KIND,
        scope=scope,
        params={
            "campaign": campaign.pk,
            "filename": gettext("Direct mail: %(name)s") % {"name": campaign.name},
            "language": translation.get_language() or "",
        },
        by_user_id=scope.user_id,
    )
    audit.record(
        action=AUDIT_START,
        summary=f"{campaign.name}: direct mail, {count} letters",
        entity_id=campaign.entity_id,
        data={"campaign": campaign.pk, "job": job.pk, "letters": count},
    )
    return job


def batches_for(campaign: Campaign) -> QuerySet[Job]:
    """The direct-mail batches of a campaign, whoever launched them (a store, HQ, the engine).

    Unscoped on purpose: a batch the engine or HQ launched belongs to HQ's node, yet the store whose
    campaign it is may download it. ``campaign`` was itself fetched through the active scope, and the
    rows are filtered by its id and organisation."""
    return Job.unscoped.filter(
        organisation_id=campaign.organisation_id, kind=JOB_KIND, params__campaign=campaign.pk
    ).order_by("-created_at", "-pk")


def batch_file(job: Job) -> str:
    return str(job.result.get("file", "")) if job.status == Job.Status.DONE and job.result else ""


@jobs.job_handler(JOB_KIND)
def run_direct_mail_job(job: Job, report: jobs.Report) -> dict[str, Any]:
    """The job: render, pack, store under ``delivery/direct-mail/<job token>.zip`` (a rerun after a
    crash replaces its own file: idempotent)."""
    with translation.override(job.params.get("language") or None):
        campaign = Campaign.objects.select_related("entity", "version__template").get(
            pk=job.params["campaign"]
        )
        ids = job.params.get("contact_ids")
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as buffer:
            result = direct_mail_batch(
                campaign=campaign,
                out=buffer,  # type: ignore[arg-type]
                report=report,
                contact_ids=[int(i) for i in ids] if isinstance(ids, list) else None,
            )
            name = f"{STORAGE_DIR}/{job.token}.zip"
            if default_storage.exists(name):
                default_storage.delete(name)
            buffer.seek(0)
            stored = default_storage.save(name, File(buffer, name=name))
    log.info(
        "direct mail %s: %s letters, %s pages in %ss",
        campaign.pk,
        result.letters,
        result.pages,
        result.seconds,
    )
    return {
        # core/_job_status.html is written for imports: "ok" and the four counts make it say "Done".
        "ok": True,
        "created": result.letters,
        "updated": 0,
        "moved": 0,
        "unchanged": 0,
        "campaign": campaign.pk,
        "file": stored,
        "filename": download_name(campaign),
        "size": result.zip_size,
        "letters": result.letters,
        "pages": result.pages,
        "documents": result.documents,
        "page_size_mm": list(result.page_size_mm),
        "refused": result.refused[:20],
        "fonts_embedded": result.fonts_embedded,
        "seconds": result.seconds,
    }


# -- print kit (its items also feed the social export) -------------------------------------------


@dataclass(frozen=True)
class KitItem:
    """One template version to render for a store; ``values`` None: the store's saved personalisation."""

    version: TemplateVersion
    values: dict[str, Any] | None = None
    label: str = ""

    @property
    def template(self) -> ChannelTemplate:
        return self.version.template


def kit_items(templates: Iterable[ChannelTemplate | TemplateVersion | KitItem]) -> list[KitItem]:
    """Templates (their published version), versions or items, as items (unpublished ones dropped)."""
    items: list[KitItem] = []
    for entry in templates:
        if isinstance(entry, KitItem):
            items.append(entry)
        elif isinstance(entry, TemplateVersion):
            items.append(KitItem(entry))
        else:
            version = entry.published_version()
            if version is not None:
                items.append(KitItem(version))
    return items


def store_templates(entity: Entity, channel: str) -> list[KitItem]:
    """The published templates of ``channel`` the store can use: owned by the store or a node above it
    (and visible in the active scope), each at its published version."""
    templates = ChannelTemplate.objects.filter(
        channel=channel,
        status=ChannelTemplate.Status.PUBLISHED,
        entity_id__in=ancestor_ids_of_path(entity.path),
    ).order_by("name", "pk")
    return kit_items(templates)


def operation_items(operation: Operation, entity: Entity, channel: str) -> list[KitItem]:
    """An operation's waves on ``channel`` for a store: its campaign's content, else HQ's defaults."""
    items = []
    waves = operation.waves.select_related("version__template").order_by("send_at", "pk")
    for wave in waves:
        if wave.version.template.channel != channel:
            continue
        campaign = (
            Campaign.objects.filter(wave=wave, entity=entity)
            .exclude(state=State.CANCELLED)
            .order_by("-pk")
            .first()
        )
        values = dict(campaign.values) if campaign is not None else dict(wave.zone_defaults)
        items.append(
            KitItem(campaign.version if campaign else wave.version, values, f"{operation.name} {wave.name}")
        )
    return items


def campaign_items(campaign: Campaign, channel: str) -> list[KitItem]:
    if campaign.channel != channel:
        return []
    return [KitItem(campaign.version, dict(campaign.values), campaign.name)]


class _Names:
    """File stems unique inside one zip: ``<slug>-<template id>`` (``-2``, ``-3``… on repeats)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def stem(self, item: KitItem) -> str:
        base = f"{slugify(item.label or item.template.name)[:40] or 'template'}-{item.template.pk}"
        stem, n = base, 1
        while stem in self.used:
            n += 1
            stem = f"{base}-{n}"
        self.used.add(stem)
        return stem


def _variant(item: KitItem, entity: Entity) -> rendering.Variant:
    values = (
        item.values if item.values is not None else creative_selectors.stored_values(item.version, entity)
    )
    return creative_selectors.build_variant(item.version, entity, values)


def store_print_kit(
    *, entity: Entity, templates: Iterable[ChannelTemplate | TemplateVersion | KitItem]
) -> bytes:
    """A zip of the store's print material (posters, flyers, point-of-sale cards): one print-ready PDF
    per template (HQ's format, bleed and marks) with the store's details and personalisation, and
    ``contents.csv`` (file, template, version, format, pages, print check problems). Direct-mail
    letters are listed, not rendered (they are per recipient). Other channels are ignored."""
    files: dict[str, bytes] = {}
    rows: list[list[Any]] = []
    names = _Names()
    for item in kit_items(templates):
        if item.template.channel != Channel.PRINT:
            continue
        stem = names.stem(item)
        variant = _variant(item, entity)
        options = printing.parse_options(variant.source)
        label = str(options.page.label)
        if options.page.letter:
            rows.append(["", item.template.name, item.version.number, label, 0, str(LETTER_SKIPPED)])
            continue
        kit, images = printing.variant_assets(variant)
        try:
            printed = printing.render_print(
                variant, brand_kit.kit_recipient(), brand_kit.PREVIEW_LINKS, kit=kit, images=images
            )
        except RenderError as exc:
            rows.append(["", item.template.name, item.version.number, label, 0, exc.text])
            continue
        filename = f"{stem}-{options.format}.pdf"
        files[filename] = printed.pdf
        problems = "; ".join(f.text for f in printing.check_print(printed))
        rows.append([filename, item.template.name, item.version.number, label, printed.page_count, problems])
    files["contents.csv"] = csv_bytes(CONTENTS_HEADER, rows)
    return pack_zip(files)
