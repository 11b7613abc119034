"""Reads for the library and the brand kit (all through scoped managers)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet

from glocal.core.scope import get_scope
from glocal.network.models import Entity

from .models import Asset, AssetUsage, AssetVersion, BrandKit, Folder, LibrarySettings, Tag, path_ids

DEFAULT_COLOURS = ["#1f5135", "#ffffff", "#b3261e"]
DEFAULT_FONTS = ["DejaVu Sans"]
# After the kit's font in emails: what every mail client has (the kit's font may not be installed).
WEB_SAFE_FALLBACK = "Arial, Helvetica, sans-serif"
# The names of ``brand`` in every channel's context (print, email, social): Kit.as_context's keys.
KIT_FIELDS = [
    "accent",
    "colours",
    "font",
    "font_stack",
    "fonts",
    "footer",
    "legal_mentions",
    "logo_url",
    "primary",
    "reply_to",
    "secondary",
    "sender_email",
    "sender_name",
]


def library_settings() -> LibrarySettings:
    scope = get_scope()
    found = LibrarySettings.objects.filter(organisation_id=scope.organisation_id).first()
    return found or LibrarySettings(organisation_id=scope.organisation_id)


def folders() -> QuerySet[Folder]:
    return (
        Folder.objects.select_related("entity")
        .annotate(asset_count=Count("assets"))
        .order_by("entity__depth", "entity__name", "name", "pk")
    )


def assets(
    *, folder: Folder | None = None, tag: str = "", query: str = "", kind: str = ""
) -> QuerySet[Asset]:
    qs = Asset.objects.select_related("current", "folder", "entity").prefetch_related("tags")
    if folder is not None:
        qs = qs.filter(folder=folder)
    if tag:
        qs = qs.filter(tags__name=tag)
    if query:
        qs = qs.filter(name__icontains=query)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-updated_at", "pk").distinct()


def tags() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


def versions(asset: Asset) -> QuerySet[AssetVersion]:
    return AssetVersion.objects.filter(asset=asset).select_related("uploaded_by").order_by("-number")


def usages(asset: Asset) -> QuerySet[AssetUsage]:
    return (
        AssetUsage.objects.filter(asset=asset)
        .select_related("template", "template_version", "personalisation__entity")
        .order_by("-created_at")
    )


@dataclass
class Kit:
    """The brand kit in effect on a node: its own kit's non-empty fields over its ancestors'."""

    colours: list[str] = field(default_factory=lambda: list(DEFAULT_COLOURS))
    fonts: list[str] = field(default_factory=lambda: list(DEFAULT_FONTS))
    logo_id: int | None = None
    legal_mentions: str = ""
    footer: str = ""
    sender_name: str = ""
    sender_email: str = ""
    reply_to: str = ""
    sources: dict[str, int] = field(default_factory=dict)  # field → node id it comes from

    @property
    def primary(self) -> str:
        return self.colours[0] if self.colours else DEFAULT_COLOURS[0]

    @property
    def secondary(self) -> str:
        return self.colours[1] if len(self.colours) > 1 else "#ffffff"

    @property
    def accent(self) -> str:
        return self.colours[2] if len(self.colours) > 2 else DEFAULT_COLOURS[2]

    @property
    def font(self) -> str:
        return self.fonts[0] if self.fonts else DEFAULT_FONTS[0]

    @property
    def font_stack(self) -> str:
        """The kit's font then web-safe fallbacks, for email CSS (``font-family: {{ brand.font_stack }}``)."""
        return (
            f"'{self.font}', {WEB_SAFE_FALLBACK}"
            if re.fullmatch(r"[A-Za-z0-9 \-]{1,60}", self.font)
            else WEB_SAFE_FALLBACK
        )

    def logo_url(self) -> str:
        """The signed public URL of the logo's current version ("" without a visible logo)."""
        if self.logo_id is None:
            return ""
        from .usage import public_url

        logo = Asset.objects.filter(pk=self.logo_id).select_related("current").first()
        return public_url(logo.current) if logo is not None and logo.current is not None else ""

    def as_context(self) -> dict[str, Any]:
        return {
            "colours": list(self.colours),
            "primary": self.primary,
            "secondary": self.secondary,
            "accent": self.accent,
            "fonts": list(self.fonts),
            "font": self.font,
            "font_stack": self.font_stack,
            "logo_url": self.logo_url(),
            "legal_mentions": self.legal_mentions,
            "footer": self.footer,
            "sender_name": self.sender_name,
            "sender_email": self.sender_email,
            "reply_to": self.reply_to,
        }


def effective_kit(entity: Entity) -> Kit:
    """Merge the kits on the path from the root down to ``entity`` (deeper, non-empty wins)."""
    ids = path_ids(entity.path)
    # Kits of the node's ancestors are visible in any scope covering the node (tree rule).
    kits = {k.entity_id: k for k in BrandKit.objects.filter(entity_id__in=ids)}
    kit = Kit()
    for node_id in ids:
        found = kits.get(node_id)
        if found is None:
            continue
        for name in BrandKit.FIELDS:
            value = getattr(found, name)
            if value not in ("", None, []):
                setattr(kit, name, list(value) if isinstance(value, list) else value)
                kit.sources[name] = node_id
    return kit


def store_kit(store: dict[str, Any]) -> dict[str, Any]:
    """The kit in effect for a store context (by its code, in the active scope), as template data: the
    ``brand`` of emails (``hooks.register_brand_kit``) and of print; ``{}`` outside a scope or for an
    unknown store."""
    from glocal.core.scope import current_scope

    code = store.get("code", "") if isinstance(store, dict) else ""
    if current_scope() is None or not code:
        return {}
    entity = Entity.objects.filter(code=code).first()
    return effective_kit(entity).as_context() if entity is not None else {}


def kit_nodes() -> QuerySet[Entity]:
    """Nodes that can carry a kit: the organisation's non-local nodes in the scope."""
    return Entity.objects.filter(entity_type__is_local=False, is_active=True).order_by("depth", "name")


@dataclass
class AssetFile:
    """What a renderer needs of an asset: its file on disk and pixel size."""

    asset_id: int
    name: str  # storage name (read through default_storage, whatever the backend)
    url: str
    width: int | None
    height: int | None
    alt: str
    content_type: str


def asset_files(ids: list[int]) -> dict[int, AssetFile]:
    """Current versions of the visible assets among ``ids`` (invisible ids are simply absent)."""
    from .usage import public_url

    found: dict[int, AssetFile] = {}
    for asset in Asset.objects.filter(pk__in=ids, current__isnull=False).select_related("current"):
        version = asset.current
        assert version is not None
        found[asset.pk] = AssetFile(
            asset.pk,
            version.file.name,
            public_url(version),
            version.width,
            version.height,
            asset.alt_text or asset.name,
            version.content_type,
        )
    return found
