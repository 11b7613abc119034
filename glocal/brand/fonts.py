"""The fonts a brand kit may choose: those the print PDFs can embed.

WeasyPrint lays text out with the fonts fontconfig knows on the server and embeds the subsets it uses;
a family it does not know (a kit saying "Montserrat" on a server without it) is silently replaced by
another. So the kit's font is chosen among the families fontconfig lists (read once per process with
``fc-list : family``; DejaVu from Debian's fonts-dejavu-core at least). Emails name the same font, then
web-safe fallbacks (``Kit.font_stack``): a mail client without it uses Arial or Helvetica.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import shutil
import subprocess  # noqa: S404 - a fixed command, no input
from typing import Any

from django.utils.translation import gettext_lazy as _

from .imaging import Processed, UploadRejected

# When fontconfig cannot be asked: what the project's image always ships (fonts-dejavu-core).
FALLBACK_FAMILIES = ("DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif")


@functools.cache
def system_families() -> tuple[str, ...]:
    """The font families fontconfig can give WeasyPrint (each line's first name), sorted."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return FALLBACK_FAMILIES
    try:
        out = subprocess.run(  # noqa: S603
            [fc_list, ":", "family"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return FALLBACK_FAMILIES
    families = {line.split(",")[0].strip() for line in out.splitlines() if line.strip()}
    return tuple(sorted(families)) or FALLBACK_FAMILIES


FONT_TYPES = {
    b"\x00\x01\x00\x00": ("ttf", "font/ttf"),
    b"true": ("ttf", "font/ttf"),
    b"OTTO": ("otf", "font/otf"),
}
FONT_TYPES[b"wOF2"] = ("woff2", "font/woff2")
FAMILY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,59}$")


def is_font(data: bytes) -> bool:
    return data[:4] in FONT_TYPES


def font_family(data: bytes) -> str:
    """The font's family name, read with fontTools (a file it cannot open is not a font)."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(io.BytesIO(data), lazy=True)
        names: Any = font["name"]
        family = names.getBestFamilyName() or ""
    except (TTLibError, KeyError, ValueError, AssertionError, OSError, ImportError):
        family = ""
    family = " ".join(str(family).split())
    if not FAMILY.match(family):
        raise UploadRejected(_("This font cannot be read (TTF, OTF or WOFF2 expected)."))
    return family


def process_font(data: bytes) -> tuple[Processed, str]:
    """A TTF/OTF/WOFF2 upload, checked by opening it: stored as it is, with its family name."""
    if not is_font(data):
        raise UploadRejected(_("This font cannot be read (TTF, OTF or WOFF2 expected)."))
    family = font_family(data)
    extension, content_type = FONT_TYPES[data[:4]]
    return Processed(
        data, extension, content_type, None, None, None, hashlib.sha256(data).hexdigest()
    ), family


def uploaded_fonts() -> dict[str, Any]:
    """The font assets visible in the active scope, by family (their asset's name), newest first."""
    from .models import Asset

    found: dict[str, Any] = {}
    for asset in Asset.objects.filter(kind=Asset.Kind.FONT, current__isnull=False).order_by("-updated_at"):
        found.setdefault(asset.name, asset)
    return found


def embeddable_fonts() -> list[str]:
    """The families a kit may choose: the server's, then the uploaded ones."""
    return sorted(set(system_families()) | set(uploaded_fonts()))


def font_face_css(family: str, *, inline: bool) -> str:
    """An ``@font-face`` for an uploaded family ("" for a system one): inline (a ``data:`` URI, print's
    fetcher loads only those) or by its public URL (email)."""
    import base64

    from .usage import public_url

    if family in system_families() or not FAMILY.match(family):
        return ""
    asset = uploaded_fonts().get(family)
    if asset is None:
        return ""
    version = asset.current
    if inline:
        with version.file.open("rb") as handle:
            src = f"data:{version.content_type};base64," + base64.b64encode(handle.read()).decode()
    else:
        src = public_url(version)
    return f'@font-face {{ font-family: "{family}"; src: url("{src}"); }}'


def font_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in embeddable_fonts()]
