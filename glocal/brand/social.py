"""Social posts: an image rendered with Pillow (square 1080×1080, story 1080×1920) and a caption.

No browser: the background is an image of the library (cover-cropped), darkened for contrast, with the
headline zone and the store's name written in the brand kit's colours and the DejaVu fonts. The
caption is the template source rendered as text in the creatives sandbox.
"""

from __future__ import annotations

import base64
import io
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


@lru_cache(maxsize=16)
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


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            trial = f"{current} {word}".strip()
            if draw.textlength(trial, font=font) <= width or not current:
                current = trial
            else:
                lines.append(current)
                current = word
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(" .,;") + "…"
    return [line for line in lines if line]


def _fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, start: int, max_lines: int
) -> tuple[Any, list[str]]:
    size = start
    while True:
        font = _font(True, size)
        lines = _wrap(draw, text, font, width, max_lines * 3)
        if len(lines) <= max_lines or size <= 28:
            return font, lines[:max_lines]
        size -= 8


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
    margin = 72
    band = 150 if fmt == "square" else 190
    draw.rectangle([0, height - band, width, height], fill=primary)
    draw.rectangle([0, height - band, width, height - band + 10], fill=accent)
    font, lines = _fit(draw, headline or store_name, width - 2 * margin, 96 if fmt == "square" else 112, 5)
    line_height = int(font.size * 1.2) if hasattr(font, "size") else 60
    top = (height - band - line_height * len(lines)) // 2
    for i, line in enumerate(lines):
        draw.text((margin, top + i * line_height), line, font=font, fill=secondary)
    if subline:
        sub = _font(False, 40)
        draw.text((margin, top + len(lines) * line_height + 20), subline[:60], font=sub, fill=secondary)
    name_font = _font(True, 48 if fmt == "square" else 56)
    name = _wrap(draw, store_name, name_font, width - 2 * margin, 1)
    draw.text(
        (margin, height - band + (band - 48) // 2), name[0] if name else "", font=name_font, fill=secondary
    )
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
