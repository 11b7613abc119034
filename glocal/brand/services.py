"""Writes on the library and the brand kit. Views, commands and the creatives hook call these.

Every function runs inside an active scope and fetches through scoped managers: a foreign id is a
``DoesNotExist`` (404 in views) exactly like a missing one.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope
from glocal.network.models import Entity

from . import fonts as fontlib
from . import imaging, selectors
from .models import Asset, AssetVersion, BrandKit, Folder, LibrarySettings, Tag

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
FONT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,59}$")


def _require(action: Action) -> None:
    if not role_allows(get_scope().role, action):
        raise PermissionDenied


def can_manage() -> bool:
    return role_allows(get_scope().role, Action.ASSET_MANAGE)


def can_upload_locally() -> bool:
    scope = get_scope()
    return (
        role_allows(scope.role, Action.ASSET_UPLOAD_LOCAL)
        and selectors.library_settings().allow_local_uploads
    )


def _check_folder_writable(folder: Folder) -> None:
    """HQ roles write in folders of their subtree; a store writes only in its own local folder."""
    scope = get_scope()
    if not scope.covers_path(folder.entity.path):
        raise PermissionDenied
    if can_manage():
        return
    if folder.is_local and folder.entity_id == scope.entity_id and can_upload_locally():
        return
    raise PermissionDenied


def folder_create(*, entity: Entity, name: str) -> Folder:
    _require(Action.ASSET_MANAGE)
    scope = get_scope()
    if not scope.covers_path(entity.path) or entity.organisation_id != scope.organisation_id:
        raise PermissionDenied
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A folder needs a name.")})
    if Folder.objects.filter(entity=entity, name=name).exists():
        raise ValidationError({"name": _("This node already has a folder with that name.")})
    folder = Folder.objects.create(organisation_id=scope.organisation_id, entity=entity, name=name)
    audit.record(action="asset.folder", summary=f"folder {name}", entity_id=entity.pk, data={"name": name})
    return folder


def local_folder() -> Folder:
    """The store's own photo folder (created on first use); only when HQ allows local uploads."""
    scope = get_scope()
    if not can_upload_locally():
        raise PermissionDenied
    entity = Entity.objects.get(pk=scope.entity_id)
    folder, _created = Folder.objects.get_or_create(
        organisation_id=scope.organisation_id,
        entity=entity,
        is_local=True,
        defaults={"name": _("Our photos")},
    )
    return folder


def _tags(names: list[str]) -> list[Tag]:
    scope = get_scope()
    tags = []
    for raw in names:
        name = slugify(raw.strip(), allow_unicode=True)[:40]
        if name:
            tag, _created = Tag.objects.get_or_create(organisation_id=scope.organisation_id, name=name)
            tags.append(tag)
    return tags


def _font_version(asset: Asset, data: bytes, max_bytes: int) -> imaging.Processed:
    """A font upload (opened with fontTools): the asset is named by the font's family, the name a kit
    chooses it by."""
    if len(data) > max_bytes:
        raise imaging.UploadRejected(
            _("The file is too large (%(size)s MB; at most %(max)s MB)."),
            size=round(len(data) / 1_048_576, 1),
            max=round(max_bytes / 1_048_576, 1),
        )
    processed, family = fontlib.process_font(data)
    asset.name = family
    asset.save(update_fields=["name"])
    return processed


def _store_version(asset: Asset, data: bytes, filename: str) -> AssetVersion:
    scope = get_scope()
    settings = selectors.library_settings()
    try:
        if asset.kind == Asset.Kind.FONT:
            processed = _font_version(asset, data, settings.max_upload_mb * 1_048_576)
        else:
            processed = imaging.process_upload(
                data,
                max_bytes=settings.max_upload_mb * 1_048_576,
                max_dimension=settings.max_dimension,
                allow_documents=asset.kind == Asset.Kind.DOCUMENT,
            )
    except imaging.UploadRejected as exc:
        raise ValidationError({"file": exc.text}) from None
    if asset.kind != Asset.Kind.DOCUMENT and processed.content_type == "application/pdf":
        raise ValidationError({"file": _("Only images (JPEG, PNG, WebP, GIF) are accepted here.")})
    latest = AssetVersion.objects.select_for_update().filter(asset=asset).order_by("-number").first()
    number = (latest.number + 1) if latest else 1
    version = AssetVersion(
        organisation_id=scope.organisation_id,
        asset=asset,
        number=number,
        original_name=(filename or "")[:200],
        content_type=processed.content_type,
        size_bytes=len(processed.content),
        width=processed.width,
        height=processed.height,
        sha256=processed.sha256,
        uploaded_by_id=scope.user_id,
    )
    version.file.save(
        f"v{number}-{processed.sha256[:12]}.{processed.extension}", ContentFile(processed.content), save=False
    )
    if processed.thumbnail:
        ext = "png" if processed.thumbnail.startswith(b"\x89PNG") else "jpg"
        version.thumbnail.save(f"v{number}-thumb.{ext}", ContentFile(processed.thumbnail), save=False)
    version.save()
    asset.current = version
    asset.save(update_fields=["current", "updated_at"])
    return version


def asset_upload(
    *,
    folder: Folder | None,
    name: str,
    data: bytes,
    filename: str = "",
    kind: str = Asset.Kind.IMAGE,
    tags: list[str] | None = None,
    alt_text: str = "",
) -> Asset:
    """A new asset with its first version. All or nothing: a refused file writes nothing.
    ``folder=None``: the store's own photo folder (only when HQ allows local uploads)."""
    with transaction.atomic():
        folder = folder if folder is not None else local_folder()
        _check_folder_writable(folder)
        return _asset_upload(folder, name, data, filename, kind, tags, alt_text)


def _asset_upload(
    folder: Folder, name: str, data: bytes, filename: str, kind: str, tags: list[str] | None, alt_text: str
) -> Asset:
    scope = get_scope()
    if kind not in Asset.Kind.values:
        raise ValidationError({"kind": _("Unknown kind.")})
    if not can_manage() and kind != Asset.Kind.IMAGE:
        raise PermissionDenied
    name = (name or filename or "").strip()[:160]
    if not name:
        raise ValidationError({"name": _("An asset needs a name.")})
    with transaction.atomic():
        asset = Asset.objects.create(
            organisation_id=scope.organisation_id,
            folder=folder,
            entity=folder.entity,
            kind=kind,
            name=name,
            alt_text=alt_text.strip()[:250],
        )
        version = _store_version(asset, data, filename)
        if tags:
            asset.tags.set(_tags(tags))
        audit.record(
            action="asset.upload",
            summary=f"{asset.name} v{version.number}",
            entity_id=folder.entity_id,
            data={"asset": asset.pk, "sha256": version.sha256},
        )
    return asset


def asset_new_version(*, asset: Asset, data: bytes, filename: str = "") -> AssetVersion:
    """Upload a new version; the previous ones are kept (and stay referenced by past renders)."""
    _check_folder_writable(asset.folder)
    with transaction.atomic():
        version = _store_version(asset, data, filename)
        audit.record(
            action="asset.version", summary=f"{asset.name} v{version.number}", entity_id=asset.entity_id
        )
    return version


def asset_update(*, asset: Asset, name: str, alt_text: str, tags: list[str]) -> Asset:
    _check_folder_writable(asset.folder)
    name = name.strip()[:160]
    if not name:
        raise ValidationError({"name": _("An asset needs a name.")})
    with transaction.atomic():
        asset.name, asset.alt_text = name, alt_text.strip()[:250]
        asset.save(update_fields=["name", "alt_text", "updated_at"])
        asset.tags.set(_tags(tags))
        audit.record(action="asset.edit", summary=asset.name, entity_id=asset.entity_id)
    return asset


def library_settings_save(
    *, allow_local_uploads: bool, max_upload_mb: int, max_dimension: int
) -> LibrarySettings:
    _require(Action.ASSET_MANAGE)
    scope = get_scope()
    if not 1 <= max_upload_mb <= 50:
        raise ValidationError({"max_upload_mb": _("Between 1 and 50 MB.")})
    if not 200 <= max_dimension <= 20000:
        raise ValidationError({"max_dimension": _("Between 200 and 20,000 pixels.")})
    settings, _created = LibrarySettings.objects.get_or_create(organisation_id=scope.organisation_id)
    settings.allow_local_uploads = allow_local_uploads
    settings.max_upload_mb = max_upload_mb
    settings.max_dimension = max_dimension
    settings.save()
    audit.record(
        action="asset.settings",
        summary=f"local uploads {'on' if allow_local_uploads else 'off'}",
        data={"local_uploads": allow_local_uploads},
    )
    return settings


# -- brand kit -----------------------------------------------------------------------------------


def clean_colours(values: list[str]) -> list[str]:
    colours = [v.strip().lower() for v in values if v.strip()]
    bad = [v for v in colours if not HEX_COLOUR.match(v)]
    if bad:
        raise ValidationError(
            {
                "colours": _("Colours are written #rrggbb; not understood: %(values)s")
                % {"values": ", ".join(bad)}
            }
        )
    return colours[:12]


def clean_fonts(values: list[str]) -> list[str]:
    fonts = [v.strip() for v in values if v.strip()]
    bad = [v for v in fonts if not FONT_NAME.match(v)]
    if bad:
        raise ValidationError(
            {
                "fonts": _("Font names use letters, digits, spaces and hyphens: %(values)s")
                % {"values": ", ".join(bad)}
            }
        )
    known = fontlib.embeddable_fonts()
    unknown = [v for v in fonts if v not in known]
    if unknown:
        raise ValidationError(
            {
                "fonts": _(
                    "%(values)s cannot be embedded in print PDFs (not installed on the server). "
                    "Choose one of: %(known)s."
                )
                % {"values": ", ".join(unknown), "known": ", ".join(known)}
            }
        )
    return fonts[:6]


def brand_kit_save(*, entity: Entity, data: dict[str, Any]) -> BrandKit:
    """Create or update the kit of the organisation's root node or of a region (empty fields of a
    regional kit inherit from above)."""
    _require(Action.BRAND_MANAGE)
    scope = get_scope()
    if not scope.covers_path(entity.path) or entity.organisation_id != scope.organisation_id:
        raise PermissionDenied
    if entity.entity_type.is_local:
        raise ValidationError(_("A brand kit belongs to the organisation or to a region, not to a store."))
    logo = data.get("logo")
    if logo is not None and (logo.kind not in (Asset.Kind.LOGO, Asset.Kind.IMAGE) or not logo.current_id):
        raise ValidationError({"logo": _("Choose an image or logo of the library.")})
    with transaction.atomic():
        kit = BrandKit.objects.filter(entity=entity).first() or BrandKit(
            organisation_id=scope.organisation_id, entity=entity
        )
        kit.colours = clean_colours(data.get("colours", []))
        kit.fonts = clean_fonts(data.get("fonts", []))
        kit.logo = logo
        for name in ("legal_mentions", "footer", "sender_name", "sender_email", "reply_to"):
            setattr(kit, name, (data.get(name) or "").strip())
        kit.full_clean(exclude=["organisation", "entity"])
        kit.save()
        audit.record(
            action="brand.kit",
            summary=f"brand kit {entity.name}",
            entity_id=entity.pk,
            data={"name": entity.name},
        )
    return kit
