"""Creatives' extension points, filled by the apps built on it (the brand library, from
``BrandConfig.ready``) through these registrations — never by overwriting creatives' module attributes.

- :func:`register_channel`: a channel's renderer (``rendering.RENDERERS``) and its starter template
  (``services.STARTER_SOURCE`` / ``STARTER_ZONES``): print and social.
- :func:`register_image_library`: image zones pick from a library (``forms.PersonalisationForm``) and
  their values (asset ids) become URLs when rendered (``rendering.image_url``); the library tells an
  asset's format, width and size (``ImageLibrary.info``) for the zone's image rules, and offers only the
  images that meet them.
- :func:`register_brand_kit`: the brand kit in effect for a store (HQ's kit with its region's overrides)
  as a plain dict, the ``brand`` of every channel's context (``rendering.Variant.brand``); ``{}`` without
  one. Also its known names (:data:`BRAND_FIELDS`), checked at authoring.
- :data:`PERSONALISATION_CHECKS`: called by ``services.personalisation_save`` with the personalisation
  about to be written, inside its transaction; a check refuses with ``ValidationError`` (nothing written).

Creatives never imports the apps that register here (see ARCHITECTURE.md, layers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Personalisation
    from .rendering import Renderer
    from .zones import ImageInfo, Zone


@dataclass(frozen=True)
class ImageLibrary:
    url: Callable[[str, Zone], str]  # (asset id, zone) -> a URL the channel can load ("" if unknown)
    # An image zone's choices: (asset id, label), only the images that meet the zone's rules (formats,
    # min_width, max_kb: ``zones.image_fits``).
    choices: Callable[[Zone], list[tuple[str, str]]]
    # asset id -> its current version's format, width and size (``zones.ImageInfo``); None if unknown.
    info: Callable[[str], ImageInfo | None] | None = None


IMAGE_LIBRARY: list[ImageLibrary] = []
BRAND_KITS: list[Callable[[dict[str, Any]], dict[str, Any]]] = []
# The names of ``brand`` a template may use (the same in every channel): set by the registration.
BRAND_FIELDS: list[str] = []
PERSONALISATION_CHECKS: list[Callable[[Personalisation], None]] = []


def image_library() -> ImageLibrary | None:
    """The registered image library, if any."""
    return IMAGE_LIBRARY[-1] if IMAGE_LIBRARY else None


def register_image_library(library: ImageLibrary) -> None:
    if library not in IMAGE_LIBRARY:
        IMAGE_LIBRARY.append(library)


def register_brand_kit(kit: Callable[[dict[str, Any]], dict[str, Any]], fields: list[str]) -> None:
    """``kit(store)``: the brand kit for the store context ``store`` (by its code), as a plain dict."""
    if kit not in BRAND_KITS:
        BRAND_KITS.append(kit)
    BRAND_FIELDS[:] = sorted(set(BRAND_FIELDS) | set(fields))


def brand_kit(store: dict[str, Any]) -> dict[str, Any]:
    """The registered brand kit for ``store``; ``{}`` without one."""
    return BRAND_KITS[-1](store) if BRAND_KITS else {}


def register_personalisation_check(check: Callable[[Personalisation], None]) -> None:
    if check not in PERSONALISATION_CHECKS:
        PERSONALISATION_CHECKS.append(check)


def register_channel(
    channel: str, *, renderer: Renderer, starter_source: str, starter_zones: list[dict[str, Any]]
) -> None:
    """A channel rendered by another app; the first registration of a channel wins."""
    from . import rendering, services

    rendering.RENDERERS.setdefault(channel, renderer)
    services.STARTER_SOURCE.setdefault(channel, starter_source)
    services.STARTER_ZONES.setdefault(channel, starter_zones)
