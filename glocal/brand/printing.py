"""Print rendering: HQ's HTML/CSS (rendered in the creatives sandbox) → print-ready PDF with WeasyPrint.

Formats: poster A3 and A4, flyer A5, point-of-sale card (A6), direct-mail letter (A4 with the
recipient's address in the window-envelope position). Options, written by HQ on the first line of the
source as a Jinja comment (so it never renders)::

    {# print: format=a4 bleed=3 marks=yes qr=store #}

``bleed`` (mm) enlarges the page box around the trim box (CSS ``@page { bleed }``), ``marks`` adds crop
and registration marks; ``qr`` is ``store`` (the store's page), ``offer`` (the ``offer_url`` zone) or
``none``; the QR code (segno, SVG) is in the context as ``qr``. Fonts are the system's (DejaVu from
Debian's fonts-dejavu-core): WeasyPrint embeds the subsets it uses.

Resources (:func:`make_fetcher`): ONLY ``data:`` URIs and signed library image URLs of assets the
rendering scope — and the store the print is for — may see (the library's tree rule: store photos stay in
their store, nothing of another organisation). Never a path: ``/media/…`` and ``/static/…`` are refused
like http, file or ftp URLs, and reported (COMPLIANCE.md, "Injection and content").

Print checks: every image must reach 300 dpi at its printed size (pixels ÷ printed inches, measured on
the laid-out boxes) and every font of the PDF must be embedded (read from the PDF's font descriptors).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from markupsafe import Markup, escape

from glocal.core.language import speaking
from glocal.creatives import rendering
from glocal.creatives.findings import ERROR, WARNING, Finding
from glocal.creatives.sandbox import RenderError, compile_source, render

from . import fonts as fontlib
from . import render_cache

STARTER_SOURCE = """{# print: format=a4 bleed=3 marks=yes qr=store #}
<div style="padding: 20mm; background: var(--brand-primary); color: var(--brand-secondary)">
  <h1 style="font-size: 36pt">{{ zones.headline }}</h1>
  <p>{{ store.name }} — {{ store.full_address }}</p>
  {% if qr %}<img src="{{ qr }}" alt="QR" style="width: 30mm; height: 30mm">{% endif %}
</div>
"""
STARTER_ZONES: list[dict[str, Any]] = [
    {"key": "headline", "type": "short_text", "label": "Headline", "max_length": 50}
]
PLATFORM_HOST = "platform.invalid"
BASE_URL = f"https://{PLATFORM_HOST}/"
MIN_DPI = 300
CSS_PX_PER_INCH = 96
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Format:
    key: str
    label: Any
    width_mm: float
    height_mm: float
    letter: bool = False


FORMATS: dict[str, Format] = {
    "a3": Format("a3", _("Poster A3"), 297, 420),
    "a4": Format("a4", _("Poster A4"), 210, 297),
    "a5": Format("a5", _("Flyer A5"), 148, 210),
    "pos": Format("pos", _("Point-of-sale card (A6)"), 105, 148),
    "letter": Format("letter", _("Direct-mail letter (A4, window envelope)"), 210, 297, letter=True),
}
# The address block of a letter (A4 folded in three, 99 mm panels) for a DL envelope (110 × 220 mm) with
# a 45 × 100 mm right-hand window 20 mm from its right edge and 15 mm from its bottom: in the envelope
# the letter may shift up to 10 mm sideways and 11 mm up or down, so the part of the page that shows in
# the window in every position is x 100–190 mm, y 50–84 mm; the block sits inside it with ~1–2 mm to
# spare: 6 lines of 9 pt (24 mm), 38 capitals ≈ 84 mm. See docs/brand.md.
WINDOW = {"left": 102, "top": 51, "width": 87, "height": 32}


@dataclass
class PrintOptions:
    format: str = "a4"
    bleed_mm: float = 0
    marks: bool = False
    qr: str = "store"

    @property
    def page(self) -> Format:
        return FORMATS.get(self.format, FORMATS["a4"])


DIRECTIVE = re.compile(r"\{#\s*print:(?P<body>[^#]*)#\}")


def parse_options(source: str) -> PrintOptions:
    """Read the ``{# print: … #}`` directive (unknown keys and bad values fall back to defaults)."""
    options = PrintOptions()
    match = DIRECTIVE.search(source[:2000])
    if not match:
        return options
    for key, _sep, value in (part.partition("=") for part in match["body"].split()):
        value = value.strip().lower()
        if key == "format" and value in FORMATS:
            options.format = value
        elif key == "bleed":
            with contextlib.suppress(ValueError):
                options.bleed_mm = max(0.0, min(10.0, float(value.removesuffix("mm"))))
        elif key == "marks":
            options.marks = value in ("yes", "true", "1", "crop")
        elif key == "qr" and value in ("store", "offer", "none"):
            options.qr = value
    return options


# -- resources -----------------------------------------------------------------------------------


class ResourceRefused(ValueError):
    pass


def _public_image(token: str, scope: Any, store_path: str) -> tuple[bytes, str] | None:
    """A library image by its signed token, read from storage (no network request) — only when its
    asset belongs to the rendering scope's organisation and is visible from that scope AND from the
    store the print is for (``store_path``; store photos stay in their store)."""
    from .models import AssetVersion
    from .usage import version_id_from_token

    version_id = version_id_from_token(token)
    if not version_id or scope is None:
        return None
    # A signed id, narrowed by the tree rule of the rendering scope (and of the store it renders for).
    versions = AssetVersion.unscoped.filter(pk=version_id, organisation_id=scope.organisation_id).filter(
        AssetVersion.scope_q(scope)
    )
    if store_path:
        store_scope = dataclasses.replace(scope, entity_id=int(store_path.rstrip("/").rsplit("/", 1)[-1]),
                                          entity_path=store_path)  # fmt: skip
        versions = versions.filter(AssetVersion.scope_q(store_scope))
    version = versions.first()
    if version is None or not version.is_image:
        return None
    with version.file.open("rb") as handle:
        return handle.read(), version.content_type


def store_path_of(store: dict[str, Any] | None) -> str:
    """The tree path of the variant's store in the active scope ("" when it is not found there)."""
    from glocal.core.scope import current_scope
    from glocal.network.models import Entity

    code = str((store or {}).get("code", "") or "")
    if not code or current_scope() is None:
        return ""
    return Entity.objects.filter(code=code).values_list("path", flat=True).first() or ""


def make_fetcher(refused: list[str], *, store: dict[str, Any] | None = None) -> Any:
    """WeasyPrint's URL fetcher for one render: ``data:`` URIs and signed library image URLs whose asset
    the rendering scope (the active one, captured now) — and the store ``store`` the print is for —
    may see. Never a path (``/media/…``, ``/static/…``), never another organisation's file, never a
    network request: anything else is refused and listed in ``refused`` (a finding of the print check)."""
    from django.urls import reverse
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    from glocal.core.scope import current_scope

    public_prefix = settings.GLOCAL_PUBLIC_URL.rstrip("/") + reverse("brand:public", args=["t"])[:-2]
    scope = current_scope()
    store_path = store_path_of(store)

    class ScopedFetcher(URLFetcher):
        """data: URIs and the rendering scope's own library images. Nothing else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if urlsplit(url).scheme == "data":
                return super().fetch(url, headers)
            if url.startswith(public_prefix):
                image = _public_image(url[len(public_prefix) :].split("/", 1)[0], scope, store_path)
                if image is not None:
                    return URLFetcherResponse(url, body=image[0], headers={"Content-Type": image[1]})
            refused.append(url[:200])
            raise ResourceRefused(f"refused: {url[:200]}")

    return ScopedFetcher(allowed_protocols={"data", "https", "http"}, allow_redirects=False, timeout=2)


def qr_data_uri(url: str) -> str:
    if not url:
        return ""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


# -- rendering -----------------------------------------------------------------------------------

PAGE_TEMPLATE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><style>
@page {{ size: {w}mm {h}mm; margin: 0;{bleed}{marks} }}
html {{ font-family: {fonts}; color: #1a1a1a; font-size: 11pt; }}
body {{ margin: 0; }}
:root {{ --brand-primary: {primary}; --brand-secondary: {secondary}; --brand-accent: {accent}; }}
.glocal-address {{ position: absolute; left: {wl}mm; top: {wt}mm; width: {ww}mm; height: {wh}mm;
  font-size: 9pt; line-height: 1.25; overflow: hidden; }}
</style></head><body>{body}{address}</body></html>"""


@dataclass
class PrintResult:
    pdf: bytes = b""
    options: PrintOptions = field(default_factory=PrintOptions)
    images: list[dict[str, Any]] = field(default_factory=list)  # src, pixels, printed size, dpi
    refused: list[str] = field(default_factory=list)
    page_count: int = 0


def _css_fonts(fonts: list[str]) -> str:
    names = [f'"{f}"' for f in fonts if re.fullmatch(r"[A-Za-z0-9 \-]{1,60}", f)]
    return ", ".join(names + ['"DejaVu Sans"', "sans-serif"])


def _font_faces(kit: dict[str, Any]) -> str:
    """The kit's uploaded fonts as ``@font-face`` rules (data: URIs, the only resources the fetcher
    loads); "" when its fonts are the server's."""
    faces = [fontlib.font_face_css(f, inline=True) for f in kit.get("fonts", [])]
    return f"<style>{''.join(faces)}</style>" if any(faces) else ""


def image_context(zones: list[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Image zones → {url, width, height, alt} of the asset's current version (visible assets only)."""
    from .selectors import asset_files

    ids = {z.key: int(v) for z in zones if z.type == "image" and str(v := values.get(z.key, "")).isdigit()}
    files = asset_files(list(ids.values())) if ids else {}
    context: dict[str, Any] = {}
    for key, asset_id in ids.items():
        found = files.get(asset_id)
        if found is not None:
            context[key] = {"url": found.url, "width": found.width, "height": found.height, "alt": found.alt}
    return context


ADDRESS_WIDTH = 38  # characters per line (La Poste's addressing standard, NF Z10-011)
ADDRESS_LINES = 6
LIGATURES = {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"}


def postal_capitals(text: str) -> str:
    """The last line of a postal address as La Poste reads it: capitals, no accents, no punctuation
    ("Saint-Étienne-du-Rouvray" → "SAINT ETIENNE DU ROUVRAY")."""
    text = "".join(LIGATURES.get(ch, ch) for ch in str(text))
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9A-Za-z]+", " ", plain).split()).upper()


def address_lines(recipient: dict[str, Any], *, max_lines: int = ADDRESS_LINES) -> list[str]:
    """The window-envelope block: name, address lines, then "POSTCODE TOWN" in capitals without accents
    or punctuation; at most ``max_lines`` lines of at most 38 characters (a second address line is
    dropped first when there are too many)."""
    name = " ".join(p for p in [recipient.get("first_name", ""), recipient.get("last_name", "")] if p)
    lines = [
        " ".join(str(line).split())
        for line in [name, recipient.get("address", ""), recipient.get("address_line2", "")]
    ]
    lines = [line[:ADDRESS_WIDTH].rstrip() for line in lines if line]
    last = postal_capitals(" ".join(str(recipient.get(k, "") or "") for k in ("postcode", "city")))
    if last:
        lines.append(last[:ADDRESS_WIDTH].rstrip())
    while len(lines) > max_lines and len(lines) > 2:
        del lines[-2]  # the line just above "POSTCODE TOWN" (second address line, then the street)
    return lines[:max_lines]


def render_print(
    variant: rendering.Variant,
    recipient: dict[str, Any],
    links: dict[str, str] | None = None,
    *,
    kit: dict[str, Any] | None = None,
    images: dict[str, Any] | None = None,
    options: PrintOptions | None = None,
    bleed: bool | None = None,
) -> PrintResult:
    """Render one print variant to PDF. ``bleed=False`` drops bleed and marks (screen preview)."""
    options = options or parse_options(variant.source)
    if bleed is False:
        options = PrintOptions(format=options.format, qr=options.qr)
    kit = kit or {}
    page = options.page
    store = variant.store
    qr_url = ""
    if options.qr == "store":
        qr_url = store.get("website") or store.get("map_url", "")
    elif options.qr == "offer":
        qr_url = str(variant.values.get("offer_url", "")) or store.get("website", "")
    context = {
        **variant.context(html=True),
        "recipient": recipient,
        **(links or {}),
        "brand": kit,
        "images": images or {},
        "qr": qr_data_uri(qr_url) if qr_url.startswith(("http://", "https://")) else "",
        "qr_url": qr_url,
        "page": {"format": page.key, "width_mm": page.width_mm, "height_mm": page.height_mm},
    }
    template = compile_source(rendering.HTML_ENV, variant.source)
    with speaking(variant.language):  # the reader's language, not the process's
        body = render(template, context)
    address = ""
    if page.letter:
        lines = Markup("<br>").join(escape(line) for line in address_lines(recipient))
        address = f'<div class="glocal-address" data-role="address">{lines}</div>'
    html = PAGE_TEMPLATE.format(
        w=page.width_mm,
        h=page.height_mm,
        bleed=f" bleed: {options.bleed_mm}mm;" if options.bleed_mm else "",
        marks=" marks: crop cross;" if options.marks else "",
        fonts=_css_fonts(list(kit.get("fonts", []))),
        primary=kit.get("primary", "#1f5135"),
        secondary=kit.get("secondary", "#ffffff"),
        accent=kit.get("accent", "#b3261e"),
        wl=WINDOW["left"],
        wt=WINDOW["top"],
        ww=WINDOW["width"],
        wh=WINDOW["height"],
        body=_font_faces(kit) + body,
        address=address,
    )
    # The same document for the same renderer and store is laid out once (render_cache: the editor,
    # the campaign page, the proof and its thumbnail render the same poster).
    key = render_cache.digest("print", html, options, BASE_URL, *_renderer(variant.store))
    found = render_cache.cached(
        render_cache.RENDERS,
        key,
        lambda: _lay_out(html, options, variant.store, images or {}),
        lambda r: len(r.pdf) + 4096,
    )
    return dataclasses.replace(found, images=[dict(i) for i in found.images], refused=list(found.refused))


def _renderer(store: dict[str, Any]) -> tuple[Any, ...]:
    """Who renders, for whom: what the image fetcher's rule depends on (render_cache's key)."""
    from glocal.core.scope import current_scope

    scope = current_scope()
    if scope is None:
        return (None, None, store.get("code", ""))
    return (scope.organisation_id, scope.entity_path, store.get("code", ""))


def _lay_out(html: str, options: PrintOptions, store: dict[str, Any], images: dict[str, Any]) -> PrintResult:
    """WeasyPrint's layout (twice when backgrounds and photos are extended into the bleed) and PDF."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    result = PrintResult(options=options)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    fetcher = make_fetcher(result.refused, store=store)
    parsed = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher)
    fonts = FontConfiguration()  # the kit's uploaded fonts (@font-face, data: URIs) are loaded in it
    document = parsed.render(font_config=fonts)
    if options.bleed_mm and extend_into_bleed(document, options.bleed_mm):
        # laid out again with the edge backgrounds and photos extended
        document = parsed.render(font_config=fonts)
    result.page_count = len(document.pages)
    result.images = measure_images(document, images)
    result.pdf = document.write_pdf()
    return result


EDGE_PX = 0.5
BLOCK_BOXES = {"BlockBox", "FlexBox", "GridBox"}


def extend_into_bleed(document: Any, bleed_mm: float) -> int:
    """Backgrounds and images that touch a trim edge, extended over the bleed on that side: a band
    (a box with a background colour or image) gets a negative margin and as much more padding, so its
    content stays where it was; a photo gets a negative margin, as much more width or height and
    ``object-fit: cover`` (cropped, never distorted). Written as inline ``!important`` styles on the
    laid-out elements (whose computed sizes are kept, in px): the caller lays the document out again.
    Returns how many elements were extended."""
    bleed = bleed_mm * CSS_PX_PER_INCH / MM_PER_INCH
    extended = 0
    for page in document.pages:
        page_box = page._page_box  # WeasyPrint's layout tree: the trim box is (0, 0, width, height)
        width, height = page_box.width, page_box.height
        for box in page_box.descendants():
            element = getattr(box, "element", None)
            if element is None or element.tag in ("html", "body") or not hasattr(box, "border_width"):
                continue
            if element.get("data-glocal-bleed"):
                continue  # one element laid out in several boxes (e.g. over two pages): once
            replaced = getattr(box, "replacement", None) is not None
            if not replaced and type(box).__name__ not in BLOCK_BOXES:
                continue  # table cells, inline text: their margins cannot move them
            painted = box.style["background_color"].alpha > 0 or any(
                image is not None for image in box.style["background_image"] if image != ("none", None)
            )
            if not (replaced or painted):
                continue
            x, y = box.border_box_x(), box.border_box_y()
            top = bleed if y <= EDGE_PX else 0
            left = bleed if x <= EDGE_PX else 0
            right = bleed if x + box.border_width() >= width - EDGE_PX else 0
            bottom = bleed if y + box.border_height() >= height - EDGE_PX else 0
            if not (top or left or right or bottom):
                continue
            grow_w, grow_h = (left + right, top + bottom) if replaced else (0, 0)
            rules = [
                "box-sizing: content-box",
                f"width: {box.width + grow_w:.3f}px",
                f"height: {box.height + grow_h:.3f}px",
                f"margin-top: {box.margin_top - top:.3f}px",
                f"margin-right: {box.margin_right - right:.3f}px",
                f"margin-bottom: {box.margin_bottom - bottom:.3f}px",
                f"margin-left: {box.margin_left - left:.3f}px",
            ]
            if replaced:
                rules.append("object-fit: cover")
            else:
                rules += [
                    f"padding-top: {box.padding_top + top:.3f}px",
                    f"padding-right: {box.padding_right + right:.3f}px",
                    f"padding-bottom: {box.padding_bottom + bottom:.3f}px",
                    f"padding-left: {box.padding_left + left:.3f}px",
                ]
            style = (element.get("style") or "").rstrip().rstrip(";")
            element.set("style", f"{style}; " + "; ".join(f"{rule} !important" for rule in rules))
            element.set("data-glocal-bleed", "1")
            extended += 1
    return extended


def measure_images(document: Any, images: dict[str, Any]) -> list[dict[str, Any]]:
    """Each laid-out image: its pixel size (from the library) and printed size → effective dpi."""
    pixels = {info["url"]: (info.get("width"), info.get("height")) for info in images.values()}
    found: list[dict[str, Any]] = []
    for page in document.pages:
        for box in page._page_box.descendants():  # WeasyPrint's layout tree: replaced boxes are images
            element = getattr(box, "element", None)
            if getattr(box, "replacement", None) is None or element is None:
                continue
            path = element.get("src", "")
            width_px, height_px = pixels.get(path, (None, None))
            box_w_in, box_h_in = box.width / CSS_PX_PER_INCH, box.height / CSS_PX_PER_INCH
            if not width_px or not height_px or box_w_in <= 0 or box_h_in <= 0:
                continue
            dpi = min(width_px / box_w_in, height_px / box_h_in)
            found.append(
                {
                    "src": path,
                    "pixels": (width_px, height_px),
                    "printed_mm": (round(box_w_in * MM_PER_INCH), round(box_h_in * MM_PER_INCH)),
                    "dpi": round(dpi),
                }
            )
    return found


# -- checks --------------------------------------------------------------------------------------

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def pdf_objects_text(pdf: bytes) -> bytes:
    """The PDF's bytes plus every Flate stream decompressed (object streams hide font dictionaries)."""
    parts = [pdf]
    for match in _STREAM.finditer(pdf):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def font_report(pdf: bytes) -> tuple[int, int]:
    """(fonts described, fonts embedded): a descriptor without /FontFile* is a non-embedded font."""
    text = pdf_objects_text(pdf)
    descriptors = re.findall(rb"/Type\s*/FontDescriptor(.*?)>>", text, re.S)
    embedded = [d for d in descriptors if re.search(rb"/FontFile[23]?\b", d)]
    return len(descriptors), len(embedded)


def media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    """Page sizes in points from the /MediaBox entries (width, height)."""
    text = pdf_objects_text(pdf)
    boxes = []
    for match in re.finditer(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", text):
        x0, y0, x1, y1 = (float(v) for v in match.groups())
        boxes.append((round(x1 - x0, 2), round(y1 - y0, 2)))
    return boxes


def check_print(result: PrintResult) -> list[Finding]:
    findings: list[Finding] = []
    for image in result.images:
        if image["dpi"] < MIN_DPI:
            findings.append(
                Finding(
                    code="print_low_resolution",
                    severity=ERROR,
                    where="print",
                    message=_(
                        "An image is %(dpi)s dpi at its printed size (%(w)s × %(h)s mm, %(pw)s × %(ph)s "
                        "pixels); print needs at least 300 dpi: use a larger image or print it smaller."
                    ),
                    params={
                        "dpi": image["dpi"],
                        "w": image["printed_mm"][0],
                        "h": image["printed_mm"][1],
                        "pw": image["pixels"][0],
                        "ph": image["pixels"][1],
                    },
                )
            )
    described, embedded = font_report(result.pdf)
    if described != embedded:
        findings.append(
            Finding(
                code="print_font_not_embedded",
                severity=ERROR,
                where="print",
                message=_(
                    "%(count)s font(s) of the PDF are not embedded; the printer would substitute them."
                ),
                params={"count": described - embedded},
            )
        )
    for url in result.refused:
        findings.append(
            Finding(
                code="print_resource_refused",
                severity=WARNING,
                where="source",
                message=_(
                    "A resource the print may not use was refused (only library images visible to this "
                    "store and data: URIs): %(url)s"
                ),
                params={"url": url[:80]},
            )
        )
    return findings


# -- preview as images ---------------------------------------------------------------------------


def pdf_pages_png(pdf: bytes, *, dpi: int = 50, first_pages: int = 4) -> list[bytes] | None:
    """PNG images of the first pages with poppler's ``pdftoppm`` when it is installed; ``None`` when it
    is not (the preview then embeds the PDF itself)."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    key = render_cache.digest("pages", pdf, dpi, first_pages)
    return render_cache.cached(
        render_cache.PAGE_IMAGES,
        key,
        lambda: _rasterise(tool, pdf, dpi, first_pages),
        lambda pages: sum(len(p) for p in pages) + 1024,
    )


def _rasterise(tool: str, pdf: bytes, dpi: int, first_pages: int) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.pdf"
        source.write_bytes(pdf)
        subprocess.run(  # noqa: S603 - fixed arguments, our own file
            [tool, "-png", "-r", str(dpi), "-l", str(first_pages), str(source), str(Path(tmp) / "page")],
            check=True,
            timeout=30,
            capture_output=True,
        )
        return [p.read_bytes() for p in sorted(Path(tmp).glob("page*.png"))]


# -- the creatives channel hook ------------------------------------------------------------------


@dataclass
class RenderedPrint(rendering.Rendered):
    pdf: bytes = b""
    print_result: PrintResult | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def pdf_data_uri(self) -> str:
        return "data:application/pdf;base64," + base64.b64encode(self.pdf).decode() if self.pdf else ""

    @property
    def page_images(self) -> list[str]:
        """PNG data URIs of the first pages when ``pdftoppm`` is installed, else an empty list."""
        pages = pdf_pages_png(self.pdf) if self.pdf else None
        return ["data:image/png;base64," + base64.b64encode(p).decode() for p in pages or []]

    @property
    def format_label(self) -> str:
        return str(self.print_result.options.page.label) if self.print_result else ""


def variant_assets(variant: rendering.Variant) -> tuple[dict[str, Any], dict[str, Any]]:
    """Brand kit and image zones for a variant, looked up in the active scope (store by code)."""
    from glocal.core.scope import current_scope

    if current_scope() is None:
        return {}, {}
    return variant.brand, image_context(variant.zones, variant.values)


def render_print_channel(
    variant: rendering.Variant, recipient: dict[str, Any], links: dict[str, str]
) -> rendering.Rendered:
    result = RenderedPrint(channel="print", links=dict(links))
    kit, images = variant_assets(variant)
    try:
        printed = render_print(variant, recipient, links, kit=kit, images=images)
    except RenderError as exc:
        result.errors.append(exc)
        return result
    result.pdf = printed.pdf
    result.print_result = printed
    result.findings = check_print(printed)
    return result
