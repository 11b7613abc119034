"""Demo step 5, brand data: the organisation's kit, a regional override, a library folder with a
generated photo, and published print (A4 poster) and social templates, so `make demo` shows them."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw

from glocal.brand import services
from glocal.creatives import services as creative_services
from glocal.creatives.models import Channel
from glocal.network.models import Entity, Organisation

DEMO_POSTER = """{# print: format=a4 bleed=3 marks=yes qr=store #}
<style>
  .poster { height: 297mm; display: flex; flex-direction: column; }
  .band { background: var(--brand-primary); color: var(--brand-secondary); padding: 14mm 16mm; }
  .band h1 { font-size: 40pt; margin: 0 0 4mm; line-height: 1.1; }
  .photo { flex: 1; background: #ddd; overflow: hidden; }
  .photo img { width: 100%; height: 100%; object-fit: cover; }
  .foot { display: flex; gap: 8mm; align-items: center; padding: 10mm 16mm; }
  .foot .qr { width: 32mm; height: 32mm; }
  .legal { font-size: 7pt; color: #555; padding: 0 16mm 8mm; }
</style>
<div class="poster">
  <div class="band"><h1>{{ zones.headline }}</h1><p>{{ zones.offer }}</p></div>
  <div class="photo">
    {% if images.photo %}<img src="{{ images.photo.url }}" alt="{{ images.photo.alt }}">{% endif %}
  </div>
  <div class="foot">
    {% if qr %}<img class="qr" src="{{ qr }}" alt="QR">{% endif %}
    <div><strong>{{ store.name }}</strong><br>{{ store.full_address }}<br>{{ store.phone }}</div>
  </div>
  <p class="legal">{{ brand.legal_mentions }}</p>
</div>
"""
DEMO_POSTER_ZONES: list[dict[str, Any]] = [
    {
        "key": "headline",
        "type": "short_text",
        "label": "Titre",
        "max_length": 50,
        "default": "Portes ouvertes",
    },
    {
        "key": "offer",
        "type": "short_text",
        "label": "Offre",
        "max_length": 80,
        "default": "-20 % ce week-end",
    },
    {"key": "photo", "type": "image", "label": "Photo", "tag": "affiche"},
]
DEMO_SOCIAL = (
    "{{ zones.headline }} chez {{ store.name }} ({{ store.city }}) !\n{{ zones.offer }}\n#{{ store.code }}"
)
DEMO_SOCIAL_ZONES: list[dict[str, Any]] = [
    {
        "key": "headline",
        "type": "short_text",
        "label": "Titre",
        "max_length": 60,
        "default": "Nouvelle collection",
    },
    {
        "key": "offer",
        "type": "short_text",
        "label": "Offre",
        "max_length": 80,
        "default": "Venez la découvrir",
    },
    {"key": "background", "type": "image", "label": "Fond"},
]


def demo_photo(width: int = 2600, height: int = 2100) -> bytes:
    """A deterministic 'photo' large enough for 300 dpi on the A4 poster (210 × 173 mm ≈ 2480 × 2043 px)."""
    image = Image.new("RGB", (width, height), "#7fb08a")
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 160):
        draw.rectangle([i, 0, i + 80, height], fill="#6a9c76")
    draw.ellipse([width // 3, height // 4, 2 * width // 3, 3 * height // 4], fill="#f2d16b")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def seed_brand(org: Organisation) -> None:
    """Called by :func:`glocal.demo.seed.seed_demo` inside the HQ scope of ``org``."""
    hq = Entity.objects.get(parent__isnull=True, organisation=org)
    services.library_settings_save(allow_local_uploads=True, max_upload_mb=10, max_dimension=8000)
    folder = services.folder_create(entity=hq, name="Campagnes")
    photo = services.asset_upload(
        folder=folder,
        name="Vitrine printemps",
        data=demo_photo(),
        tags=["affiche", "printemps"],
        alt_text="Vitrine fleurie du magasin",
    )
    services.brand_kit_save(
        entity=hq,
        data={
            "colours": ["#1f5135", "#ffffff", "#b3261e"],
            "fonts": ["DejaVu Sans"],
            "legal_mentions": f"{org.name} SAS — offre valable dans la limite des stocks disponibles.",
            "footer": f"{org.name} — la proximité avant tout.",
            "sender_name": org.name,
            "sender_email": "newsletter@maison-verte.example",
            "reply_to": "contact@maison-verte.example",
        },
    )
    region = Entity.objects.filter(parent=hq, entity_type__is_local=False).order_by("path").first()
    if region is not None:
        services.brand_kit_save(entity=region, data={"colours": ["#0f4c81", "#ffffff", "#e0a100"]})
    poster_zones = [dict(z) for z in DEMO_POSTER_ZONES]
    poster_zones[2]["default"] = str(photo.pk)
    social_zones = [dict(z) for z in DEMO_SOCIAL_ZONES]
    social_zones[2]["default"] = str(photo.pk)
    for channel, name, source, zones in (
        (Channel.PRINT, "Affiche A4 du magasin", DEMO_POSTER, poster_zones),
        (Channel.SOCIAL, "Post Instagram", DEMO_SOCIAL, social_zones),
    ):
        template = creative_services.template_create(channel=channel, name=name, entity=hq)
        creative_services.version_save(template=template, source=source, zones_data=zones)
        creative_services.version_publish(template=template)
