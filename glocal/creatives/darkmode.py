"""The email as a dark-mode mail client shows it, for the preview's third frame (pure: HTML in, HTML out).

- When the email declares its own dark colours (``@media (prefers-color-scheme: dark)`` rules), they are
  forced on: the media feature is rewritten to one that always matches (and a ``light`` one to one that
  never does), since the preview's frame itself is light. ``<meta name="color-scheme" content="light
  dark">`` is added when missing, as clients that honour it expect.
- When it declares none, a client's full colour inversion is simulated (what Outlook's and Gmail's apps
  do): the page's colours are inverted, its images inverted back, so they keep their own colours; the
  preview says so (:attr:`DarkPreview.simulated`).
- :func:`logo_warning`: an email without dark rules that shows a logo — a dark or transparent logo may
  vanish on a dark background (a warning of the dark frame, not of the compliance checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .findings import WARNING, Finding

FEATURE_RE = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)
STYLE_RE = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
MEDIA_RE = re.compile(r"@media\b[^{;]*\{", re.IGNORECASE)
COLOR_SCHEME_META_RE = re.compile(r"<meta\b[^>]*name\s*=\s*[\"']?color-scheme", re.IGNORECASE)
LOGO_RE = re.compile(r"<img\b[^>]*\blogo\b[^>]*>", re.IGNORECASE)
ALWAYS = "(min-width: 0px)"
NEVER = "(max-width: -1px)"
META = (
    '<meta name="color-scheme" content="light dark">'
    '<meta name="supported-color-schemes" content="light dark">'
)
# A client's full inversion: colours inverted (hue kept), images and background images inverted back.
INVERSION = (
    '<style data-glocal="dark-simulation">'
    "html{background:#fff;filter:invert(1) hue-rotate(180deg)}"
    'img,picture,video,[background],[style*="background-image"]{filter:invert(1) hue-rotate(180deg)}'
    "</style>"
)


@dataclass(frozen=True)
class DarkPreview:
    html: str
    simulated: bool  # no dark rules of its own: a client's colour inversion is shown
    warnings: tuple[Finding, ...] = ()


def _media_rules(html: str) -> list[str]:
    """The media queries of the email's style sheets (their preludes up to ``{``)."""
    return [m.group(0) for style in STYLE_RE.finditer(html) for m in MEDIA_RE.finditer(style.group(2))]


def has_dark_rules(html: str) -> bool:
    """Does the email declare colours for dark mode (a ``prefers-color-scheme: dark`` media query)?"""
    return any("dark" in (f.group(1).lower()) for q in _media_rules(html) for f in FEATURE_RE.finditer(q))


def _force_media(css: str) -> str:
    def prelude(match: re.Match[str]) -> str:
        return FEATURE_RE.sub(lambda f: ALWAYS if f.group(1).lower() == "dark" else NEVER, match.group(0))

    return MEDIA_RE.sub(prelude, css)


def _insert_head(html: str, extra: str) -> str:
    """``extra`` at the end of ``<head>`` (else at the start of the document)."""
    end = re.search(r"</head\s*>", html, re.IGNORECASE)
    if end is not None:
        return html[: end.start()] + extra + html[end.start() :]
    return extra + html


def logo_warning(html: str) -> Finding | None:
    """A warning when the email has no dark rules and shows a logo (an image named or described "logo")."""
    if has_dark_rules(html) or not LOGO_RE.search(html):
        return None
    return Finding(
        code="dark_mode_logo",
        severity=WARNING,
        where="source",
        message=_(
            "This email has no dark-mode colours and shows a logo: a dark or transparent logo may vanish "
            "on a dark background. Give the logo a light outline or background, or add "
            "@media (prefers-color-scheme: dark) rules."
        ),
    )


def dark_variant(html: str) -> DarkPreview:
    """``html`` as a dark-mode client shows it (see the module's docstring)."""
    if not html:
        return DarkPreview(html="", simulated=False)
    warning = logo_warning(html)
    warnings = (warning,) if warning is not None else ()
    extra = "" if COLOR_SCHEME_META_RE.search(html) else META
    if has_dark_rules(html):
        forced = STYLE_RE.sub(lambda m: m.group(1) + _force_media(m.group(2)) + m.group(3), html)
        return DarkPreview(html=_insert_head(forced, extra), simulated=False, warnings=warnings)
    return DarkPreview(html=_insert_head(html, extra + INVERSION), simulated=True, warnings=warnings)
