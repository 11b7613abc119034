"""The library's hooks into creatives: image zones → asset URLs, checks and usage tracking.

Registered in ``BrandConfig.ready`` through ``glocal.creatives.hooks`` (creatives never imports brand):

- :func:`image_url` / :func:`image_choices` (``hooks.register_image_library``): an image zone's value
  (an asset id) becomes the signed public URL of the asset's current version, when the asset is visible
  in the active scope; an image zone offers the images the scope may pick.
- :func:`check_personalisation` (``hooks.register_personalisation_check``): called by
  ``creatives.services.personalisation_save`` before it writes; refuses an asset the store cannot see,
  one without the tag the zone requires, or one that breaks the zone's image rules (format, width,
  weight: ``zones.image_rule_problem``, the error names the rules) (``ValidationError``, nothing
  written). :func:`image_choices` offers only the images that meet them; :func:`image_info` tells them.
- ``post_save`` of ``TemplateVersion`` and ``Personalisation`` (:func:`connect`): the
  :class:`AssetUsage` rows of that version (HQ defaults) or personalisation (a store's choices) are
  replaced by what its image zones reference now. A signal here, not a call: usage is an index derived
  from what is saved, and every write path (services, seeds, admin) must keep it right, in the same
  transaction.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _

from glocal.core.scope import Scope, current_scope
from glocal.creatives import zones as zonelib

from .models import Asset, AssetUsage, AssetVersion, tree_q

SALT = "glocal.brand.public"


def public_token(version_id: int) -> str:
    return signing.Signer(salt=SALT).sign(str(version_id)).replace(":", ".")


def version_id_from_token(token: str) -> int | None:
    try:
        value = signing.Signer(salt=SALT).unsign(token.replace(".", ":"))
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def public_url(version: AssetVersion) -> str:
    return settings.GLOCAL_PUBLIC_URL.rstrip("/") + reverse("brand:public", args=[public_token(version.pk)])


def image_url(asset_id: str, zone: Any) -> str:
    if current_scope() is None or not str(asset_id).isdigit():
        return ""
    asset = Asset.objects.filter(pk=int(asset_id)).select_related("current").first()
    return public_url(asset.current) if asset is not None and asset.current is not None else ""


def version_info(version: AssetVersion) -> zonelib.ImageInfo:
    return zonelib.ImageInfo.from_content_type(version.content_type, version.width, version.size_bytes)


def image_info(asset_id: str) -> zonelib.ImageInfo | None:
    """An asset's current version's format, width and size (the image zones' rules), if visible."""
    if current_scope() is None or not str(asset_id).isdigit():
        return None
    asset = Asset.objects.filter(pk=int(asset_id)).select_related("current").first()
    return version_info(asset.current) if asset is not None and asset.current is not None else None


def _fitting(assets: Any, zone: Any) -> Any:
    """Only the assets whose current version meets the zone's image rules (formats, min_width, max_kb)."""
    if getattr(zone, "formats", ()):
        assets = assets.filter(current__content_type__in=[zonelib.IMAGE_FORMATS[f] for f in zone.formats])
    if getattr(zone, "min_width", None) is not None:
        assets = assets.filter(current__width__gte=zone.min_width)
    if getattr(zone, "max_kb", None) is not None:
        assets = assets.filter(current__size_bytes__lte=zone.max_kb * 1024)
    return assets


def image_choices(zone: Any) -> list[tuple[str, str]]:
    """The images the active scope may pick for an image zone (its tag filter and image rules applied)."""
    if current_scope() is None:
        return []
    assets = Asset.objects.filter(kind__in=[Asset.Kind.IMAGE, Asset.Kind.LOGO], current__isnull=False)
    if getattr(zone, "tag", ""):
        assets = assets.filter(tags__name=zone.tag)
    assets = _fitting(assets, zone)
    return [
        (str(a.pk), f"{a.name} ({a.entity.name})")
        for a in assets.select_related("entity").order_by("name", "pk")[:300]
    ]


def _visible_from(organisation_id: int, path: str) -> Any:
    """Assets visible from a node (the tree rule, as if the node were the scope)."""
    node_id = int(path.rstrip("/").rsplit("/", 1)[-1])
    scope = Scope(organisation_id=organisation_id, entity_id=node_id, entity_path=path, role="")
    return Asset.unscoped.filter(tree_q(scope))  # the tree rule evaluated for the owner's node


def _image_refs(zones_data: Any, values: dict[str, Any], *, defaults: bool) -> dict[str, tuple[int, Any]]:
    zone_defs, _errors = zonelib.parse_zones(zones_data)
    refs: dict[str, tuple[int, Any]] = {}
    for zone in zone_defs:
        if zone.type != "image":
            continue
        value = str((zone.default if defaults else values.get(zone.key, "")) or "").strip()
        if value.isdigit():
            refs[zone.key] = (int(value), zone)
    return refs


def check_personalisation(instance: Any) -> None:
    version = instance.version
    refs = _image_refs(version.zones, instance.values or {}, defaults=False)
    if not refs:
        return
    visible = _visible_from(instance.organisation_id, instance.entity.path)
    errors: dict[str, list[str]] = {}
    for key, (asset_id, zone) in refs.items():
        candidates = visible.filter(pk=asset_id, current__isnull=False)
        if zone.tag:
            candidates = candidates.filter(tags__name=zone.tag)
        found = candidates.select_related("current").first()
        if found is None:
            errors[key] = [
                _("“%(zone)s”: choose an image of the library%(tag)s.")
                % {"zone": zone.title, "tag": f" (#{zone.tag})" if zone.tag else ""}
            ]
            continue
        problem = zonelib.image_rule_problem(zone, version_info(found.current))
        if problem is not None:
            errors[key] = [problem.text]
    if errors:
        raise ValidationError(errors)


def record(template_version: Any, personalisation: Any = None) -> None:
    if personalisation is not None:
        refs = _image_refs(template_version.zones, personalisation.values or {}, defaults=False)
        path = personalisation.entity.path
    else:
        refs = _image_refs(template_version.zones, {}, defaults=True)
        path = template_version.template.entity.path
    organisation_id = template_version.organisation_id
    ids = {asset_id for asset_id, _zone in refs.values()}
    visible = set(_visible_from(organisation_id, path).filter(pk__in=ids).values_list("pk", flat=True))
    # Replace this version's (or this personalisation's) rows: the usage is what it references now.
    AssetUsage.unscoped.filter(
        organisation_id=organisation_id,
        template_version_id=template_version.pk,
        personalisation_id=getattr(personalisation, "pk", None),
    ).delete()
    AssetUsage.unscoped.bulk_create(
        [
            AssetUsage(
                organisation_id=organisation_id,
                asset_id=asset_id,
                template_id=template_version.template_id,
                template_version_id=template_version.pk,
                personalisation_id=getattr(personalisation, "pk", None),
                zone=key,
            )
            for key, (asset_id, _zone) in refs.items()
            if asset_id in visible
        ]
    )


def connect() -> None:
    from django.db.models.signals import post_save

    from glocal.creatives.models import Personalisation, TemplateVersion

    def version_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if not raw:
            record(instance)

    def personalisation_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if not raw:
            record(instance.version, instance)

    post_save.connect(version_saved, sender=TemplateVersion, dispatch_uid="brand.usage.version", weak=False)
    post_save.connect(
        personalisation_saved, sender=Personalisation, dispatch_uid="brand.usage.personalisation", weak=False
    )
