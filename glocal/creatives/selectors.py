"""Reads for creatives: lists, the stores a template can be personalised for, preview builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from glocal.core.language import entity_language, recipient_language
from glocal.core.scope import get_scope
from glocal.network.models import Entity, Organisation

from . import compliance, rendering, zones
from .findings import Finding
from .models import ChannelTemplate, CreativeSettings, Personalisation, TemplateVersion

PREVIEW_UNSUBSCRIBE_URL = "https://example.invalid/unsubscribe/preview"
PREVIEW_VIEW_ONLINE_URL = "https://example.invalid/view/preview"


def templates() -> QuerySet[ChannelTemplate]:
    return ChannelTemplate.objects.select_related("entity").order_by("status", "name", "pk")


def versions(template: ChannelTemplate) -> QuerySet[TemplateVersion]:
    return TemplateVersion.objects.filter(template=template).order_by("-number")


def personalisable_stores(template: ChannelTemplate) -> QuerySet[Entity]:
    """Active local entities (stores) inside both the scope and the template owner's subtree."""
    return (
        Entity.objects.filter(
            entity_type__is_local=True, is_active=True, path__startswith=template.entity.path
        )
        .select_related("entity_type")
        .order_by("name")
    )


def settings_for(organisation_id: int) -> CreativeSettings:
    found = CreativeSettings.objects.filter(organisation_id=organisation_id).first()
    if found is not None:
        return found
    org = Organisation.objects.get(pk=organisation_id)
    return CreativeSettings(organisation=org, sms_advertiser=org.name)


def settings_context(settings: CreativeSettings) -> dict[str, Any]:
    return {
        "name": settings.organisation.name,
        "sms_price_per_segment": str(settings.sms_price_per_segment),
        "sms_opt_out": settings.sms_opt_out,
        "sms_advertiser": settings.sms_advertiser or settings.organisation.name,
    }


def stored_values(version: TemplateVersion, entity: Entity) -> dict[str, Any]:
    found = Personalisation.objects.filter(version=version, entity=entity).first()
    if found is not None:
        return dict(found.values)
    # Carry a store's values over from its personalisation of an earlier version.
    previous = (
        Personalisation.objects.filter(version__template_id=version.template_id, entity=entity)
        .order_by("-version__number")
        .first()
    )
    return dict(previous.values) if previous else {}


def build_variant(
    version: TemplateVersion,
    entity: Entity,
    values: dict[str, Any],
    settings: CreativeSettings | None = None,
    *,
    language: str | None = None,
) -> rendering.Variant:
    """The store's variant of ``version``, written in ``language`` (default: the store's, else the
    organisation's — never the active language of the request or worker building it): the store's
    opening hours are in it, and every render of the variant runs in it. A recipient's own language is
    passed by the sender (:func:`glocal.core.language.recipient_language`)."""
    zone_defs, _errors = zones.parse_zones(version.zones)
    settings = settings or settings_for(version.organisation_id)
    language = language or entity_language(entity)
    return rendering.Variant(
        channel=version.template.channel,
        source=version.source,
        subject=version.subject,
        preheader=version.preheader,
        text=version.text,
        zones=zone_defs,
        values=zones.resolve(zone_defs, values),
        store=rendering.store_context(entity, language),
        version_id=version.pk if version.is_published else None,
        organisation=settings_context(settings),
        language=language,
    )


@dataclass
class Preview:
    variant: rendering.Variant
    rendered: rendering.Rendered
    findings: list[Finding]


def preview(
    version: TemplateVersion,
    entity: Entity,
    values: dict[str, Any],
    recipient: str | dict[str, Any] = "camille",
    links: dict[str, str] | None = None,
) -> Preview:
    """The store's content as its recipient reads it: ``recipient`` is a sample's key or a recipient's
    fields (with their ``language``); the preview links unless ``links`` are given. Written in the
    recipient's language, else the store's — so the preview, the proof and the message sent to the same
    recipient are the same bytes whoever looks at them; the findings are in the reader's language."""
    settings = settings_for(version.organisation_id)
    person = rendering.sample_recipient(recipient) if isinstance(recipient, str) else dict(recipient)
    language = recipient_language(person, entity)
    variant = build_variant(version, entity, values, settings, language=language)
    links = links or {"unsubscribe_url": PREVIEW_UNSUBSCRIBE_URL, "view_online_url": PREVIEW_VIEW_ONLINE_URL}
    rendered = rendering.render_variant(variant, person, links)
    return Preview(variant, rendered, check(variant, rendered, settings))


def check(
    variant: rendering.Variant, rendered: rendering.Rendered, settings: CreativeSettings | None = None
) -> list[Finding]:
    """Compliance findings for a rendered variant (render errors first: nothing else is checked)."""
    settings = settings or settings_for(get_scope().organisation_id)
    findings: list[Finding] = [
        Finding(code=f"render_{e.code}", severity="error", where="source", message=e.message, params=e.params)
        for e in rendered.errors
    ]
    if rendered.errors:
        return findings
    findings.extend(getattr(rendered, "findings", []))  # a channel renderer's own checks (print: dpi, fonts)
    if variant.channel == "email":
        ctx = compliance.EmailContext(
            sender_name=variant.store.get("name", ""),
            postal_address=variant.store.get("full_address", ""),
            unsubscribe_url=rendered.links.get("unsubscribe_url", ""),
            restricted_patterns=list(settings.restricted_patterns),
            zones=variant.zones,
            values=variant.values,
        )
        findings.extend(compliance.check_email(rendered.html, rendered.text, rendered.subject, ctx))
    elif variant.channel == "sms" and rendered.sms is not None:
        findings.extend(
            compliance.check_sms(
                rendered.text,
                rendered.sms,
                advertiser=settings.sms_advertiser or settings.organisation.name,
                opt_out=settings.sms_opt_out,
                segment_limit=settings.sms_segment_limit,
                restricted_patterns=list(settings.restricted_patterns),
                zones=variant.zones,
                values=variant.values,
            )
        )
    return findings
