"""The fonts a brand kit may choose: those the print PDFs can embed.

WeasyPrint lays text out with the fonts fontconfig knows on the server and embeds the subsets it uses;
a family it does not know (a kit saying "Montserrat" on a server without it) is silently replaced by
another. So the kit's font is chosen among the families fontconfig lists (read once per process with
``fc-list : family``; DejaVu from Debian's fonts-dejavu-core at least). Emails name the same font, then
web-safe fallbacks (``Kit.font_stack``): a mail client without it uses Arial or Helvetica.
"""

from __future__ import annotations

import functools
import shutil
import subprocess  # noqa: S404 - a fixed command, no input

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


def embeddable_fonts() -> list[str]:
    """The families a kit may choose."""
    return list(system_families())


def font_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in embeddable_fonts()]
