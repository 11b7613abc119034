"""Upload checks and image processing with Pillow: real images only, limits, re-encoding, thumbnails.

An upload is read from its bytes, never trusted from its name or declared type. Images are decoded by
Pillow (a file that does not decode is refused), checked against the size and dimension limits, and
re-encoded (orientation applied, then every piece of metadata dropped: EXIF/GPS, XMP, IPTC, JPEG
comments, PNG text chunks; an embedded colour profile is applied, converting the pixels to sRGB), so that
what is stored and served is an image Pillow wrote from the pixels alone. SVG is refused: it is a
document that can carry scripts and external references. PDF documents are accepted as they are
(recognised by their signature) for download only.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
THUMB_SIZE = (320, 320)
MAX_PIXELS = 60_000_000  # decompression-bomb guard, whatever the organisation's limits


class UploadRejected(ValueError):
    """The upload is refused; ``message`` is translatable and safe to show."""

    def __init__(self, message: object, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(str(message))

    @property
    def text(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


@dataclass
class Processed:
    content: bytes
    extension: str
    content_type: str
    width: int | None
    height: int | None
    thumbnail: bytes | None
    sha256: str


def _looks_like_svg(head: bytes) -> bool:
    text = head[:2048].lstrip().lower()
    return text.startswith(b"<?xml") or b"<svg" in text or text.startswith(b"<!doctype svg")


def process_upload(data: bytes, *, max_bytes: int, max_dimension: int, allow_documents: bool) -> Processed:
    if not data:
        raise UploadRejected(_("The file is empty."))
    if len(data) > max_bytes:
        raise UploadRejected(
            _("The file is too large (%(size)s MB; at most %(max)s MB)."),
            size=round(len(data) / 1_048_576, 1),
            max=round(max_bytes / 1_048_576, 1),
        )
    if _looks_like_svg(data):
        raise UploadRejected(_("SVG files are not accepted: export the image as PNG or JPEG."))
    if data.startswith(b"%PDF-"):
        if not allow_documents:
            raise UploadRejected(_("Only images (JPEG, PNG, WebP, GIF) are accepted here."))
        return Processed(data, "pdf", "application/pdf", None, None, None, hashlib.sha256(data).hexdigest())
    return process_image(data, max_dimension=max_dimension)


def process_image(data: bytes, *, max_dimension: int) -> Processed:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format or ""
            width, height = probe.size
            if fmt not in IMAGE_FORMATS:
                raise UploadRejected(
                    _("This image format is not accepted (%(format)s): use JPEG, PNG, WebP or GIF."),
                    format=fmt or "?",
                )
            if width * height > MAX_PIXELS or max(width, height) > max_dimension:
                raise UploadRejected(
                    _("The image is too large (%(w)s × %(h)s pixels; at most %(max)s pixels on a side)."),
                    w=width,
                    h=height,
                    max=max_dimension,
                )
            probe.verify()
            loaded = Image.open(io.BytesIO(data))
            loaded.load()
    except UploadRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise UploadRejected(_("The file is not a valid image.")) from None
    oriented: Image.Image = ImageOps.exif_transpose(loaded) or loaded
    if fmt == "JPEG":
        image = _pixels_only(oriented, "RGB")
        extension, content_type = "jpg", "image/jpeg"
    else:
        # PNG keeps transparency (logos); WebP and GIF (first frame) are re-encoded as PNG too.
        image = _pixels_only(oriented, "RGBA" if oriented.mode in ("RGBA", "LA", "P", "PA") else "RGB")
        extension, content_type = "png", "image/png"
    out = io.BytesIO()
    # Only the pixels are written: the info dict is empty and no metadata argument is passed.
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=90, optimize=True)
    else:
        image.save(out, "PNG", optimize=True)
    content = out.getvalue()
    return Processed(
        content,
        extension,
        content_type,
        image.width,
        image.height,
        make_thumbnail(image),
        hashlib.sha256(content).hexdigest(),
    )


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _pixels_only(image: Image.Image, mode: str) -> Image.Image:
    """A copy of ``image`` in ``mode`` that carries nothing but its pixels.

    Pillow keeps what it decoded beside the pixels in ``info`` (JPEG comment, XMP, IPTC/APP13 blocks,
    Photoshop resources, PNG text chunks, EXIF, ICC profile, dpi) and writes some of it back on save
    (the JPEG comment, the ICC profile). An embedded colour profile is applied first (the pixels are
    converted to sRGB, so colours look the same without it); a profile that cannot be read is dropped.
    """
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=target_mode)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unreadable profile: the pixels are kept as they are, the profile dropped
    clean = image.convert(mode)
    if clean is image:
        clean = image.copy()
    clean.info = {}
    return clean


def make_thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail(THUMB_SIZE)
    out = io.BytesIO()
    if thumb.mode in ("RGBA", "LA", "P", "PA"):
        thumb.convert("RGBA").save(out, "PNG", optimize=True)
    else:
        thumb.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()
