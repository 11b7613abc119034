"""Reads for creatives: lists, the stores a template can be personalised for, preview builds."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from glocal.core.language import entity_language, recipient_language
from glocal.core.scope import get_scope
from glocal.network.models import Entity, Organisation

from . import carry, compliance, darkmode, hooks, rendering, sandbox, zones
from .findings import ERROR, WARNING, Finding
from .models import Channel, ChannelTemplate, CreativeSettings, Personalisation, TemplateVersion

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
    # A version published before values were carried over at publication: the store's values of its
    # latest earlier personalisation that still fit this version's zones.
    previous = (
        Personalisation.objects.filter(
            version__template_id=version.template_id, entity=entity, version__number__lt=version.number
        )
        .select_related("version")
        .order_by("-version__number")
        .first()
    )
    if previous is None:
        return {}
    old_defs, _e = zones.parse_zones(previous.version.zones)
    new_defs, _e = zones.parse_zones(version.zones)
    return carry.carry_values(old_defs, new_defs, previous.values)[0]


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

    @functools.cached_property
    def dark(self) -> darkmode.DarkPreview | None:
        """The email as a dark-mode client shows it (the preview's third frame); None for other channels."""
        if self.rendered.channel != "email" or not self.rendered.html:
            return None
        return darkmode.dark_variant(self.rendered.html)


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


def check_version_content(
    channel: str, source: str, subject: str, preheader: str, text: str, zone_data: Any
) -> list[Finding]:
    """Zone definitions valid, and every part compiles in the sandbox (errors as findings)."""
    zone_defs, findings = zones.parse_zones(zone_data)
    parts = [("source", source)]
    if channel == Channel.EMAIL:
        parts += [("subject", subject), ("preheader", preheader), ("text", text)]
    for where, part in parts:
        try:
            if channel == Channel.EMAIL:  # two-stage: recipient fields only in {{ … }}
                part = rendering.defer_recipient_expressions(part)
            sandbox.compile_source(rendering.HTML_ENV, part)
        except sandbox.RenderError as exc:
            findings.append(
                Finding(code=exc.code, severity=ERROR, where=where, message=exc.message, params=exc.params)
            )
    return findings


# -- publishing: the gate, the difference between versions, the stores' values carried over ------------

# Filled in for a sample store whose profile lacks them, so that the checks at publication judge the
# template (does it print the sender's name and address?), not one store's profile.
SAMPLE_PROFILE = {
    "name": "Magasin exemple",
    "address": "1 rue de l'Exemple",
    "postcode": "75001",
    "city": "Paris",
}


def sample_store(template: ChannelTemplate) -> Entity:
    """The store a version is tried with before it is published: the first store that can personalise
    it (the editor's preview shows the same one), else the template's owner."""
    return personalisable_stores(template).first() or template.entity


def _with_sample_profile(store: dict[str, Any]) -> dict[str, Any]:
    filled = dict(store)
    if not str(filled.get("name", "")).strip():
        filled["name"] = SAMPLE_PROFILE["name"]
    if not str(filled.get("full_address", "")).strip():
        filled.update({k: v for k, v in SAMPLE_PROFILE.items() if k != "name"})
        filled["full_address"] = (
            f"{SAMPLE_PROFILE['address']}, {SAMPLE_PROFILE['postcode']} {SAMPLE_PROFILE['city']}"
        )
    return filled


def trial_findings(version: TemplateVersion) -> list[Finding]:
    """Every finding of the version rendered with HQ's defaults for the sample store (render errors
    and the compliance checks: errors block publication, warnings need HQ's confirmation)."""
    template = version.template
    entity = sample_store(template)
    settings = settings_for(version.organisation_id)
    person = rendering.sample_recipient("camille")
    variant = build_variant(version, entity, {}, settings, language=recipient_language(person, entity))
    variant = replace(variant, store=_with_sample_profile(variant.store))
    links = {"unsubscribe_url": PREVIEW_UNSUBSCRIBE_URL, "view_online_url": PREVIEW_VIEW_ONLINE_URL}
    rendered = rendering.render_variant(variant, person, links)
    return check(variant, rendered, settings)


def draft_of(template: ChannelTemplate) -> TemplateVersion | None:
    """The template's version waiting to be published (its latest, when not published)."""
    latest = template.latest_version()
    return latest if latest is not None and not latest.is_published else None


def content_copy(template: ChannelTemplate, source: TemplateVersion) -> TemplateVersion:
    """An unsaved version holding ``source``'s content: what restoring it would publish."""
    latest = template.latest_version() or source
    return TemplateVersion(
        organisation_id=template.organisation_id,
        template=template,
        number=latest.number + 1 if latest.is_published else latest.number,  # the draft takes it
        source=source.source,
        subject=source.subject,
        preheader=source.preheader,
        text=source.text,
        zones=source.zones,
    )


def _parts(version: TemplateVersion | None) -> dict[str, str]:
    if version is None:
        return {}
    parts = {"source": version.source}
    if version.template.channel == "email":
        parts.update(subject=version.subject, preheader=version.preheader, text=version.text)
    return parts


def version_diff(old: TemplateVersion | None, new: TemplateVersion) -> carry.VersionDiff:
    """What changes from ``old`` (the published version; None: the first publication) to ``new``."""
    old_defs = zones.parse_zones(old.zones)[0] if old is not None else []
    new_defs = zones.parse_zones(new.zones)[0]
    new_parts = _parts(new)
    old_parts = _parts(old) if old is not None else dict.fromkeys(new_parts, "")
    return carry.diff_versions(old_defs, new_defs, old_parts, new_parts)


@dataclass
class StoreCarry:
    """One store's values going to a new version: kept, and dropped (carry.dropped dicts)."""

    personalisation: Personalisation  # the store's latest personalisation before the new version
    kept: dict[str, Any]
    dropped: list[dict[str, Any]]

    @property
    def entity(self) -> Entity:
        return self.personalisation.entity

    @property
    def rows(self) -> list[carry.DroppedRow]:
        return carry.describe(self.dropped)


def latest_personalisations(template: ChannelTemplate, before: int) -> list[Personalisation]:
    """Each store's latest personalisation of ``template`` on a version numbered below ``before``."""
    found: dict[int, Personalisation] = {}
    rows = (
        Personalisation.objects.filter(version__template=template, version__number__lt=before)
        .select_related("entity", "version")
        .order_by("entity__name", "entity_id", "-version__number")
    )
    for row in rows:
        found.setdefault(row.entity_id, row)
    return list(found.values())


def _image_drops(version: TemplateVersion, entity: Entity, kept: dict[str, Any]) -> dict[str, Any]:
    """The kept values the registered checks refuse (a library image the store may no longer use in
    that zone), by zone key: they are dropped too."""
    if not hooks.PERSONALISATION_CHECKS or not kept:
        return {}
    trial = Personalisation(
        organisation_id=version.organisation_id, entity=entity, version=version, values=dict(kept)
    )
    refused: dict[str, Any] = {}
    for check_values in hooks.PERSONALISATION_CHECKS:
        try:
            check_values(trial)
        except ValidationError as exc:
            keys = exc.error_dict if hasattr(exc, "error_dict") else kept
            refused.update({k: kept[k] for k in keys if k in kept})
    return refused


def carry_over(version: TemplateVersion, personalisations: list[Personalisation]) -> list[StoreCarry]:
    """Each store's values as ``version`` would keep them (same key and type, within the new limits,
    still a choice, an image still allowed), and what it would lose, with why."""
    new_defs = zones.parse_zones(version.zones)[0]
    by_key = {z.key: z for z in new_defs}
    old_defs: dict[int, list[zones.Zone]] = {}
    result: list[StoreCarry] = []
    for personalisation in personalisations:
        if personalisation.version_id not in old_defs:
            old_defs[personalisation.version_id] = zones.parse_zones(personalisation.version.zones)[0]
        # What an earlier version could not keep, while the store has not saved since, is offered again
        # (a rollback gives it back when it fits).
        values = {**{d["key"]: d["value"] for d in personalisation.dropped or []}, **personalisation.values}
        kept, lost = carry.carry_values(old_defs[personalisation.version_id], new_defs, values)
        refused = _image_drops(version, personalisation.entity, kept)
        for key, value in refused.items():
            del kept[key]
            lost.append(carry.dropped(key, by_key[key].title, value, "image_not_allowed"))
        if refused:
            order = carry.zone_order(old_defs[personalisation.version_id], new_defs)
            lost.sort(key=lambda item: order(item["key"]))
        result.append(StoreCarry(personalisation, kept, lost))
    return result


@dataclass
class PublishPlan:
    """What publishing ``version`` would do: its findings, what changes from the published version,
    and each store's values carried over."""

    version: TemplateVersion
    published: TemplateVersion | None
    findings: list[Finding]
    diff: carry.VersionDiff
    carries: list[StoreCarry] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def losing(self) -> list[StoreCarry]:
        return [c for c in self.carries if c.dropped]

    @property
    def summary(self) -> str:
        return carry_summary(self.carries)


def content_findings(version: TemplateVersion) -> list[Finding]:
    """The version's definitions and compilation (:func:`check_version_content`)."""
    return check_version_content(
        version.template.channel,
        version.source,
        version.subject,
        version.preheader,
        version.text,
        version.zones,
    )


def publish_findings(version: TemplateVersion) -> list[Finding]:
    """What stands between ``version`` and its publication: its definitions and compilation, else its
    trial render for a sample store with HQ's defaults (render errors, compliance checks)."""
    return content_findings(version) or trial_findings(version)


def publish_plan(template: ChannelTemplate, version: TemplateVersion) -> PublishPlan:
    """What publishing ``version`` would do (the draft, or a restored version's unsaved copy)."""
    published = template.published_version()
    content = content_findings(version)
    carries = carry_over(version, latest_personalisations(template, version.number)) if not content else []
    return PublishPlan(
        version=version,
        published=published,
        findings=content or trial_findings(version),
        diff=version_diff(published, version),
        carries=carries,
    )


def carry_summary(carries: list[StoreCarry], limit: int = 10) -> str:
    """The publication's result in the active language ("" when no store had personalised the
    template): "3 stores keep all their values; Magasin A loses “Titre” (now 30 characters max)."."""
    if not carries:
        return ""
    keeping = sum(1 for c in carries if not c.dropped)
    sentences = []
    if keeping:
        sentences.append(
            ngettext("%(n)s store keeps all its values", "%(n)s stores keep all their values", keeping)
            % {"n": keeping}
        )
    losing = [c for c in carries if c.dropped]
    for item in losing[:limit]:
        lost = ", ".join(
            _("“%(zone)s” (%(reason)s)") % {"zone": row.label, "reason": row.reason} for row in item.rows
        )
        sentences.append(_("%(store)s loses %(zones)s") % {"store": item.entity.name, "zones": lost})
    if len(losing) > limit:
        rest = len(losing) - limit
        sentences.append(
            ngettext("%(n)s more store loses values", "%(n)s more stores lose values", rest) % {"n": rest}
        )
    return "; ".join(sentences) + "."


def carried_into(version: TemplateVersion) -> list[StoreCarry]:
    """The stores' values carried over when ``version`` was published (the publication's result)."""
    rows = (
        Personalisation.objects.filter(version=version, carried_from__isnull=False)
        .select_related("entity")
        .order_by("entity__name")
    )
    return [StoreCarry(row, dict(row.values), list(row.dropped)) for row in rows]
