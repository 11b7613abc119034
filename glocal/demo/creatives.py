"""Demo step 2, templates: an email (MJML) and an SMS, published, so `make demo` shows them."""

from __future__ import annotations

from typing import Any

from glocal.creatives import services
from glocal.creatives.models import Channel, CreativeSettings
from glocal.network.models import Entity, Organisation

DEMO_EMAIL_MJML = """<mjml>
  <mj-head>
    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" /></mj-attributes>
  </mj-head>
  <mj-body background-color="#f3f5f4">
    <!-- Locked header: set by head office, filled with the store's own details -->
    <mj-section background-color="#1f5135" padding="16px">
      <mj-column>
        <mj-text color="#ffffff" font-size="22px" font-weight="bold">{{ store.name }}</mj-text>
        <mj-text color="#dfeee5" font-size="14px">{{ store.full_address }}</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="20px 12px">
      <mj-column>
        <mj-text font-size="13px" color="#555555">
          Bonjour {{ recipient.first_name|fallback("cher client") }},
        </mj-text>
        <mj-text font-size="26px" font-weight="bold" color="#1f5135">{{ zones.headline }}</mj-text>
        <mj-text font-size="15px" line-height="1.5">{{ zones.body }}</mj-text>
        {% if zones.offer %}
        <mj-text font-size="20px" font-weight="bold" color="#b3261e">Offre : {{ zones.offer }}</mj-text>
        {% endif %}
        <mj-button background-color="#1f5135" href="{{ store.map_url }}">Venir au magasin</mj-button>
      </mj-column>
    </mj-section>
    <!-- Locked footer: opening hours, legal mention, unsubscribe -->
    <mj-section background-color="#e7ece8" padding="12px">
      <mj-column>
        <mj-text font-size="13px"><strong>Horaires</strong><br>{{ store.hours_text|nl2br }}</mj-text>
        <mj-text font-size="12px" color="#555555">
          {{ store.name }} — {{ store.full_address }} — {{ store.phone }}<br>{{ zones.legal }}
        </mj-text>
        <mj-text font-size="12px"><a href="{{ unsubscribe_url }}">Se désabonner</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""

DEMO_EMAIL_TEXT = """Bonjour {{ recipient.first_name|fallback("cher client") }},

{{ zones.headline }}

{{ zones.body }}
{% if zones.offer %}Offre : {{ zones.offer }}{% endif %}

{{ store.name }} — {{ store.full_address }}
{{ store.hours_text }}
{{ zones.legal }}
Se désabonner : {{ unsubscribe_url }}
"""

DEMO_EMAIL_ZONES: list[dict[str, Any]] = [
    {
        "key": "headline",
        "type": "short_text",
        "label": "Titre",
        "max_length": 60,
        "required": True,
        "default": "Les nouveautés de la saison",
        "help": "Une phrase courte, sans point final.",
    },
    {
        "key": "body",
        "type": "rich_text",
        "label": "Message",
        "max_length": 1200,
        "default": "<p>Venez découvrir notre sélection en magasin.</p>",
    },
    {
        "key": "offer",
        "type": "choice",
        "label": "Offre",
        "choices": ["-10 %", "-20 %", "1 acheté = 1 offert"],
    },
    {
        "key": "legal",
        "type": "short_text",
        "label": "Mention légale",
        "locked": True,
        "max_length": 200,
        "default": "Offre valable dans la limite des stocks disponibles.",
    },
]

DEMO_SMS = (
    "{{ organisation.sms_advertiser }} {{ store.city }} : {{ zones.message }} "
    "{% if zones.code %}Code {{ zones.code }}. {% endif %}{{ organisation.sms_opt_out }}"
)
DEMO_SMS_ZONES: list[dict[str, Any]] = [
    {
        "key": "message",
        "type": "short_text",
        "label": "Message",
        "max_length": 90,
        "required": True,
        "default": "Vente privée ce week-end, -20 % sur tout le magasin !",
    },
    {"key": "code", "type": "offer_code", "label": "Code promo", "help": "Lettres et chiffres, sans espace."},
]


def seed_creatives(org: Organisation) -> None:
    """Called by :func:`glocal.demo.seed.seed_demo` inside the HQ scope of ``org``."""
    hq = Entity.objects.get(parent__isnull=True, organisation=org)
    CreativeSettings.objects.get_or_create(
        organisation=org,
        defaults={"sms_advertiser": org.name[:40], "restricted_patterns": ["gratuit", r"100\s?% rembours"]},
    )
    email = services.template_create(
        channel=Channel.EMAIL,
        name="Lettre du magasin",
        entity=hq,
        description="Newsletter mensuelle personnalisée par chaque magasin.",
    )
    services.version_save(
        template=email,
        source=DEMO_EMAIL_MJML,
        zones_data=DEMO_EMAIL_ZONES,
        subject="{{ zones.headline }} — {{ store.name }}",
        preheader="Bonjour {{ recipient.first_name|fallback('cher client') }}, "
        "les nouveautés de votre magasin",
        text=DEMO_EMAIL_TEXT,
    )
    services.version_publish(template=email)
    sms = services.template_create(channel=Channel.SMS, name="SMS promo week-end", entity=hq)
    services.version_save(template=sms, source=DEMO_SMS, zones_data=DEMO_SMS_ZONES)
    services.version_publish(template=sms)
