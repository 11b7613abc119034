"""Builders for brand tests and the access matrix (direct, unscoped writes: test set-up only)."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image

from glocal.brand.models import Asset, AssetVersion, Folder
from glocal.core.scope import activate
from glocal.creatives import services as creative_services
from glocal.creatives.models import Channel, ChannelTemplate
from glocal.network.models import Entity

PRINT_SOURCE = """{# print: format=a5 qr=store #}
<div style="background: var(--brand-primary); color: #fff; padding: 12mm">
  <h1>{{ zones.headline }}</h1>
  {% if images.photo %}
  <img src="{{ images.photo.url }}" alt="{{ images.photo.alt }}" style="width: 60mm">
  {% endif %}
  <p>{{ store.name }} — {{ store.full_address }} — {{ store.phone }}</p>
  {% if qr %}<img src="{{ qr }}" alt="QR" style="width: 25mm; height: 25mm">{% endif %}
</div>"""
PRINT_ZONES: list[dict[str, Any]] = [
    {"key": "headline", "type": "short_text", "max_length": 60, "default": "Portes ouvertes"},
    {"key": "photo", "type": "image"},
]
SOCIAL_SOURCE = "{{ zones.headline }} — {{ store.name }}, {{ store.city }} #{{ store.code }}"
SOCIAL_ZONES: list[dict[str, Any]] = [
    {"key": "headline", "type": "short_text", "max_length": 80, "default": "Nouvelle collection"},
    {"key": "background", "type": "image"},
]


def png_bytes(width: int = 64, height: int = 48, colour: str = "#cc3366", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()


def make_asset_for(entity: Entity, *, local: bool = True, name: str = "Photo", width: int = 64) -> Asset:
    folder, _created = Folder.unscoped.get_or_create(
        organisation=entity.organisation,
        entity=entity,
        name="Nos photos" if local else "Images",
        defaults={"is_local": local},
    )
    asset = Asset.unscoped.create(organisation=entity.organisation, folder=folder, entity=entity, name=name)
    version = AssetVersion(
        organisation=entity.organisation,
        asset=asset,
        number=1,
        content_type="image/png",
        width=width,
        height=width * 3 // 4,
        sha256="0" * 64,
    )
    version.file.save(f"photo-{asset.pk}.png", ContentFile(png_bytes(width, width * 3 // 4)), save=False)
    version.thumbnail.save(f"thumb-{asset.pk}.png", ContentFile(png_bytes(32, 24)), save=False)
    version.save()
    asset.current = version
    asset.save(update_fields=["current"])
    return asset


def make_asset(entity_attr: str):
    def build(n: Any) -> dict:
        return {"pk": make_asset_for(getattr(n, entity_attr)).pk}

    return build


def publish_template(network: Any, entity: Entity, channel: str, source: str, zones: list) -> ChannelTemplate:
    admin = "hq_admin" if entity.organisation_id == network.org.pk else "other_org"
    scope = network.scope(admin)
    with activate(scope):
        template = creative_services.template_create(
            channel=channel, name=f"{channel} {entity.code}", entity=entity
        )
        # An email needs a subject to pass the checks that gate publication.
        subject = "{{ store.name }}" if channel == "email" else ""
        creative_services.version_save(template=template, source=source, zones_data=zones, subject=subject)
        creative_services.version_publish(template=template)
    return template


def make_channel_template(entity_attr: str, channel: str):
    source, zones = (PRINT_SOURCE, PRINT_ZONES) if channel == Channel.PRINT else (SOCIAL_SOURCE, SOCIAL_ZONES)

    def build(n: Any) -> dict:
        return {"pk": publish_template(n, getattr(n, entity_attr), channel, source, zones).pk}

    return build
