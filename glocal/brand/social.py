"""Social posts: an image rendered with Pillow (square 1080×1080, story 1080×1920) and a caption.

No browser: the background is an image of the library (cover-cropped), darkened for contrast, with the
headline zone and the store's name written in the brand kit's colours and the DejaVu fonts. Each text
is fitted to its box (:func:`layout`, :func:`fit_text`): smaller, then on more lines, never cut and never
with an ellipsis, so a long store name ("Maison Verte Villeneuve-d'Ascq Avenue de la Libération") is
shown whole. The caption is the template source rendered as text in the creatives sandbox.
"""

from __future__ import annotations

import base64
import io
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from PIL import Image, ImageColor, ImageDraw, ImageFont, ImageOps

from glocal.core.language import speaking
from glocal.creatives import rendering
from glocal.creatives.sandbox import RenderError, render

STARTER_SOURCE = "{{ zones.headline }} — {{ store.name }}, {{ store.city }}"
STARTER_ZONES: list[dict[str, Any]] = [
    {"key": "headline", "type": "short_text", "label": "Headline", "max_length": 60},
    {"key": "background", "type": "image", "label": "Background"},
]
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SIZES = {"square": (1080, 1080), "story": (1080, 1920)}
MAX_CAPTION = 2200  # Instagram's caption limit


@lru_cache(maxsize=128)
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:  # fonts-dejavu-core missing: Pillow's own scalable default font
        return ImageFont.load_default(size)


def _colour(value: str, default: str) -> tuple[int, int, int]:
    try:
        rgb = ImageColor.getrgb(value)
        return rgb[0], rgb[1], rgb[2]
    except (ValueError, TypeError):
        return _colour(default, "#000000") if value != default else (0, 0, 0)


# ---------------------------------------------------------------------------------------------------
# Text fitted to its box: smaller, then on more lines; never cut, never an ellipsis


@dataclass(frozen=True)
class TextStyle:
    """How a text may shrink and wrap: font sizes tried from ``start`` down to ``minimum`` (by
    ``step``), at most ``max_lines`` lines. ``shrink_first``: every size on one line before two lines
    (a store's name); otherwise the largest size that fits on up to ``max_lines`` (a headline)."""

    start: int
    minimum: int
    max_lines: int
    step: int = 4
    bold: bool = True
    shrink_first: bool = False

    def sizes(self) -> range:
        return range(self.start, self.minimum - 1, -self.step)


FLOOR = 12  # below a style's minimum, only to keep a text that fits nowhere else whole
SPACES = re.compile(r"[ \t\r\n\f\v]+")  # where a line may break: not at a no-break space ("20 %", "Prix :")


@dataclass
class TextBlock:
    """A text laid out in its box (left, top, right, bottom): its font, its lines and where each line
    is drawn (Pillow's ``text()`` origin: left, top of the ascender)."""

    text: str
    box: tuple[int, int, int, int]
    font: Any
    lines: list[str]
    origins: list[tuple[int, int]] = field(default_factory=list)

    @property
    def height(self) -> int:
        return _line_height(self.font) * len(self.lines)


def _line_height(font: Any) -> int:
    size = getattr(font, "size", 40)
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (size, 0)
    return max(int(size * 1.2), ascent + descent)


def _extent(draw: ImageDraw.ImageDraw, text: str, font: Any) -> int:
    """The inked width of a line drawn at x = 0, a glyph's overhang on the left included."""
    left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
    return math.ceil(right - min(left, 0))


def _split_word(draw: ImageDraw.ImageDraw, word: str, font: Any, width: int) -> list[str]:
    """A word wider than the box, in pieces that each fit (only when no size lets it fit whole)."""
    pieces, current = [], ""
    for char in word:
        if current and _extent(draw, current + char, font) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current] if current else pieces


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> list[str]:
    """Greedy word wrap to ``width``, every word kept (a word wider than the box is split)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in SPACES.split(paragraph.strip()):
            trial = f"{current} {word}".strip()
            if _extent(draw, trial, font) <= width:
                current = trial
                continue
            if current:
                lines.append(current)
            *whole, current = _split_word(draw, word, font, width) or [""]
            lines.extend(whole)
        if current:
            lines.append(current)
    return lines


def _fits(
    draw: ImageDraw.ImageDraw, text: str, size: int, bold: bool, box: tuple[int, int], lines: int
) -> Any:
    """(font, lines) when ``text`` at ``size`` takes at most ``lines`` lines within ``box`` (width,
    height) with no word split; None otherwise."""
    font = _font(bold, size)
    wrapped = _wrap(draw, text, font, box[0])
    whole_words = len(SPACES.split(" ".join(wrapped))) == len(SPACES.split(text))
    if whole_words and len(wrapped) <= lines and _line_height(font) * len(wrapped) <= box[1]:
        return font, wrapped
    return None


def fit_text(
    draw: ImageDraw.ImageDraw, text: str, width: int, height: int, style: TextStyle
) -> tuple[Any, list[str]]:
    """The font and lines of ``text`` in a box of ``width`` × ``height``: the style's sizes and lines
    first; if none fits, smaller sizes down to FLOOR on as many lines as the box holds. Never cut."""
    text = SPACES.sub(" ", text).strip()
    if not text:
        return _font(style.bold, style.start), []
    counts = range(1, style.max_lines + 1) if style.shrink_first else [style.max_lines]
    for lines in counts:
        for size in style.sizes():
            found = _fits(draw, text, size, style.bold, (width, height), lines)
            if found:
                return found
    for size in range(style.minimum - 2, FLOOR - 1, -2):
        font = _font(style.bold, size)
        found = _fits(draw, text, size, style.bold, (width, height), max(1, height // _line_height(font)))
        if found:
            return found
    font = _font(style.bold, FLOOR)
    return font, _wrap(draw, text, font, width)  # words split: the only way left to show it all


def _place(block: TextBlock, draw: ImageDraw.ImageDraw, top: int) -> TextBlock:
    """Line origins from ``top`` down, each line at the box's left (a left overhang moved inside)."""
    line_height = _line_height(block.font)
    block.origins = []
    for i, line in enumerate(block.lines):
        left = math.floor(draw.textbbox((0, 0), line, font=block.font)[0])
        block.origins.append((block.box[0] - min(left, 0), top + i * line_height))
    return block


# ---------------------------------------------------------------------------------------------------
# The post's layout: the store band at the bottom (as tall as the name needs), the headline and the
# city centred above it

MARGIN = 72
BAND = {"square": 150, "story": 190}  # the store band's least height
STRIPE = 10  # the accent rule on top of the band
BAND_PADDING = 20
GAP = 20  # between the headline and the city
HEADLINE = {"square": TextStyle(96, 40, 5, step=8), "story": TextStyle(112, 44, 5, step=8)}
SUBLINE = TextStyle(40, 28, 2, step=2, bold=False, shrink_first=True)
NAME = {
    "square": TextStyle(48, 34, 3, step=2, shrink_first=True),
    "story": TextStyle(56, 38, 3, step=2, shrink_first=True),
}


@dataclass
class Layout:
    width: int
    height: int
    band_top: int
    blocks: dict[str, TextBlock]  # "headline", "subline", "name"


def _name_block(draw: ImageDraw.ImageDraw, fmt: str, name: str, width: int, height: int) -> TextBlock:
    style = NAME.get(fmt, NAME["square"])
    room = height // 3 - STRIPE - 2 * BAND_PADDING  # the band never takes more than a third
    font, lines = fit_text(draw, name, width - 2 * MARGIN, room, style)
    block = TextBlock(name, (MARGIN, 0, width - MARGIN, 0), font, lines)
    band = max(BAND.get(fmt, BAND["square"]), block.height + STRIPE + 2 * BAND_PADDING)
    band_top = height - band
    text_top = band_top + STRIPE + (band - STRIPE - block.height) // 2
    block.box = (MARGIN, band_top + STRIPE, width - MARGIN, height)
    return _place(block, draw, text_top)


def layout(
    draw: ImageDraw.ImageDraw, *, fmt: str, headline: str, store_name: str, subline: str = ""
) -> Layout:
    """Where every text of the post goes, each fitted to its box: the store's name in the band, the
    headline (the name when there is none) and the city centred in the space above it."""
    width, height = SIZES.get(fmt, SIZES["square"])
    right = width - MARGIN
    name = _name_block(draw, fmt, store_name, width, height)
    band_top = name.box[1] - STRIPE
    area_top, area_bottom = MARGIN, band_top - MARGIN // 2
    font, lines = fit_text(draw, subline, right - MARGIN, (area_bottom - area_top) // 3, SUBLINE)
    sub = TextBlock(subline, (MARGIN, area_top, right, area_bottom), font, lines)
    gap = GAP if sub.lines else 0
    head_room = (MARGIN, area_top, right, area_bottom - gap - sub.height)
    text = headline or store_name
    font, lines = fit_text(
        draw, text, right - MARGIN, head_room[3] - area_top, HEADLINE.get(fmt, HEADLINE["square"])
    )
    head = TextBlock(text, head_room, font, lines)
    top = area_top + (area_bottom - area_top - head.height - gap - sub.height) // 2
    _place(head, draw, top)
    _place(sub, draw, top + head.height + gap)
    return Layout(width, height, band_top, {"headline": head, "subline": sub, "name": name})


def render_image(
    *,
    fmt: str,
    headline: str,
    store_name: str,
    kit: dict[str, Any],
    background: str | None = None,
    subline: str = "",
) -> bytes:
    width, height = SIZES.get(fmt, SIZES["square"])
    primary = _colour(kit.get("primary", "#1f5135"), "#1f5135")
    secondary = _colour(kit.get("secondary", "#ffffff"), "#ffffff")
    accent = _colour(kit.get("accent", "#b3261e"), "#b3261e")
    canvas = Image.new("RGB", (width, height), primary)
    if background:
        try:
            with default_storage.open(background, "rb") as handle, Image.open(handle) as photo:
                upright: Image.Image = ImageOps.exif_transpose(photo) or photo
                cover = ImageOps.fit(upright.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
            shade = Image.new("RGB", (width, height), (0, 0, 0))
            canvas = Image.blend(cover, shade, 0.35)
        except OSError:
            pass
    draw = ImageDraw.Draw(canvas)
    placed = layout(draw, fmt=fmt, headline=headline, store_name=store_name, subline=subline)
    draw.rectangle([0, placed.band_top, width, height], fill=primary)
    draw.rectangle([0, placed.band_top, width, placed.band_top + STRIPE], fill=accent)
    for block in placed.blocks.values():
        for line, origin in zip(block.lines, block.origins, strict=True):
            draw.text(origin, line, font=block.font, fill=secondary)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=False)
    return out.getvalue()


@dataclass
class SocialPost:
    caption: str
    images: dict[str, bytes] = field(default_factory=dict)  # "square"/"story" → PNG


def headline_of(variant: rendering.Variant) -> str:
    values = variant.values
    if values.get("headline"):
        return str(values["headline"])
    for zone in variant.zones:
        if zone.type == "short_text" and values.get(zone.key):
            return str(values[zone.key])
    return ""


def background_of(variant: rendering.Variant, images: dict[str, Any]) -> str | None:
    """The file of the first image zone's asset (``images``: zone key → storage name)."""
    for zone in variant.zones:
        if zone.type == "image" and zone.key in images:
            return images[zone.key]
    return None


def render_post(
    variant: rendering.Variant,
    recipient: dict[str, Any] | None = None,
    *,
    kit: dict[str, Any] | None = None,
    images: dict[str, str] | None = None,
    formats: tuple[str, ...] = ("square", "story"),
) -> SocialPost:
    kit = kit or {}
    with speaking(variant.language):  # the reader's language, not the process's
        caption = render(
            rendering._compiled(rendering.TEXT_ENV, variant.source),
            {**variant.context(html=False), "recipient": recipient or {}, "brand": kit},
            max_output=MAX_CAPTION * 2,
        ).strip()
    background = background_of(variant, images or {})
    post = SocialPost(caption=caption)
    for fmt in formats:
        post.images[fmt] = render_image(
            fmt=fmt,
            headline=headline_of(variant),
            store_name=variant.store.get("name", ""),
            kit=kit,
            background=background,
            subline=variant.store.get("city", ""),
        )
    return post


@dataclass
class RenderedSocial(rendering.Rendered):
    post: SocialPost | None = None

    def data_uri(self, fmt: str, width: int = 540) -> str:
        """A PNG data URI of the image, downscaled for the on-screen preview."""
        if self.post is None or fmt not in self.post.images:
            return ""
        with Image.open(io.BytesIO(self.post.images[fmt])) as image:
            small = image.copy()
        small.thumbnail((width, width * 2))
        out = io.BytesIO()
        small.save(out, "PNG")
        return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()

    @property
    def square_uri(self) -> str:
        return self.data_uri("square")

    @property
    def story_uri(self) -> str:
        return self.data_uri("story", 304)


def render_social_channel(
    variant: rendering.Variant, recipient: dict[str, Any], links: dict[str, str]
) -> rendering.Rendered:
    from glocal.core.scope import current_scope

    from .selectors import asset_files

    result = RenderedSocial(channel="social", links=dict(links))
    kit: dict[str, Any] = {}
    images: dict[str, str] = {}
    if current_scope() is not None:
        from .printing import variant_assets

        kit, _image_ctx = variant_assets(variant)
        ids = {
            z.key: int(v)
            for z in variant.zones
            if z.type == "image" and str(v := variant.values.get(z.key, "")).isdigit()
        }
        files = asset_files(list(ids.values()))
        images = {k: files[i].name for k, i in ids.items() if i in files}
    try:
        result.post = render_post(variant, recipient, kit=kit, images=images)
    except RenderError as exc:
        result.errors.append(exc)
        return result
    result.text = result.post.caption
    if len(result.text) > MAX_CAPTION:
        result.errors.append(
            RenderError("caption_too_long", "The caption is longer than %(max)s characters.", max=MAX_CAPTION)
        )
    return result
