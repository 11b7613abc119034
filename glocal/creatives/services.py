"""Writes on channel templates and personalisations. Views, the CLI and the seed call these.

Every function runs inside an active scope; objects come from scoped managers, so a foreign id is a
``DoesNotExist`` (404 in views) exactly like a missing one. Zone locks are enforced here, whatever
the caller: a write to a locked zone raises and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.scope import get_scope
from glocal.network.models import Entity
from glocal.network.roles import Action, role_allows

from . import compliance, hooks, rendering, sandbox, selectors, zones
from .findings import ERROR, Finding
from .models import Channel, ChannelTemplate, CreativeSettings, Personalisation, TemplateVersion

STARTER_SOURCE: dict[str, str] = {
    Channel.EMAIL: (
        "<mjml>\n  <mj-body>\n    <mj-section>\n      <mj-column>\n"
        "        <mj-text>{{ zones.headline }}</mj-text>\n"
        "        <mj-text>{{ store.name }}, {{ store.full_address }}</mj-text>\n"
        '        <mj-text><a href="{{ unsubscribe_url }}">Se désabonner</a></mj-text>\n'
        "      </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n"
    ),
    Channel.SMS: "{{ store.name }} : {{ zones.message }} STOP au 36180",
}
STARTER_ZONES: dict[str, list[dict[str, Any]]] = {
    Channel.EMAIL: [{"key": "headline", "type": "short_text", "label": "Headline", "max_length": 60}],
    Channel.SMS: [{"key": "message", "type": "short_text", "label": "Message", "max_length": 100}],
}


def findings_error(findings: list[Finding]) -> ValidationError:
    """A ValidationError keyed by where each finding is (a zone key, or ``__all__``)."""
    by_where: dict[str, list[str]] = {}
    for finding in findings:
        by_where.setdefault(finding.where, []).append(finding.text)
    return ValidationError(by_where)


def _require(action: Action) -> None:
    if not role_allows(get_scope().role, action):
        raise PermissionDenied


def _check_owner(template: ChannelTemplate) -> None:
    """Only templates owned inside the scope's subtree can be changed (ancestors' are read-only)."""
    if not get_scope().covers_path(template.entity.path):
        raise PermissionDenied


def template_create(
    *,
    channel: str,
    name: str,
    entity: Entity,
    description: str = "",
    approval_policy: str = ChannelTemplate.Approval.NONE,
) -> ChannelTemplate:
    _require(Action.TEMPLATE_MANAGE)
    scope = get_scope()
    if not scope.covers_path(entity.path) or entity.organisation_id != scope.organisation_id:
        raise PermissionDenied
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Unknown channel.")})
    with transaction.atomic():
        template = ChannelTemplate(
            organisation_id=scope.organisation_id,
            entity=entity,
            channel=channel,
            name=name.strip(),
            description=description,
            approval_policy=approval_policy,
        )
        template.full_clean()
        template.save()
        TemplateVersion.objects.create(
            organisation_id=scope.organisation_id,
            template=template,
            number=1,
            source=STARTER_SOURCE.get(channel, ""),
            subject=name.strip() if channel == Channel.EMAIL else "",
            zones=STARTER_ZONES.get(channel, []),
        )
        audit.record(
            action="template.create",
            summary=f"{template.channel} {template.name}",
            entity_id=entity.pk,
            data={"name": template.name, "channel": template.channel},
        )
    return template


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


def version_save(
    *,
    template: ChannelTemplate,
    source: str,
    zones_data: Any,
    subject: str = "",
    preheader: str = "",
    text: str = "",
) -> TemplateVersion:
    """Save the template's draft version (a new draft, copied forward, when the latest is published:
    published versions never change)."""
    _require(Action.TEMPLATE_MANAGE)
    _check_owner(template)
    if template.status == ChannelTemplate.Status.ARCHIVED:
        raise ValidationError(_("An archived template cannot be edited."))
    findings = check_version_content(template.channel, source, subject, preheader, text, zones_data)
    if findings:
        raise findings_error(findings)
    with transaction.atomic():
        latest = (
            TemplateVersion.objects.select_for_update().filter(template=template).order_by("-number").first()
        )
        if latest is None or latest.is_published:
            version = TemplateVersion(
                organisation_id=template.organisation_id,
                template=template,
                number=(latest.number + 1) if latest else 1,
            )
        else:
            version = latest
        version.source, version.subject, version.preheader, version.text = source, subject, preheader, text
        version.zones = zones_data
        version.save()
        audit.record(
            action="template.save", summary=f"{template.name} v{version.number}", entity_id=template.entity_id
        )
    return version


def version_publish(*, template: ChannelTemplate) -> TemplateVersion:
    _require(Action.TEMPLATE_MANAGE)
    _check_owner(template)
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update().filter(template=template).order_by("-number").first()
        )
        if version is None or version.is_published:
            raise ValidationError(_("There is no draft to publish."))
        findings = check_version_content(
            template.channel, version.source, version.subject, version.preheader, version.text, version.zones
        )
        if not findings:
            # A trial render with HQ's own node as the store catches runtime errors before stores see them.
            trial = selectors.preview(version, template.entity, {})
            findings = [f for f in trial.findings if f.code.startswith("render_")]
        if findings:
            raise findings_error(findings)
        version.published_at = timezone.now()
        version.save(update_fields=["published_at"])
        template.status = ChannelTemplate.Status.PUBLISHED
        template.save(update_fields=["status", "updated_at"])
        audit.record(
            action="template.publish",
            summary=f"{template.name} v{version.number}",
            entity_id=template.entity_id,
        )
    return version


def template_archive(*, template: ChannelTemplate) -> None:
    _require(Action.TEMPLATE_MANAGE)
    _check_owner(template)
    template.status = ChannelTemplate.Status.ARCHIVED
    template.save(update_fields=["status", "updated_at"])
    audit.record(action="template.archive", summary=template.name, entity_id=template.entity_id)


def personalisation_save(
    *, version: TemplateVersion, entity: Entity, values: dict[str, Any], submit: bool = False
) -> Personalisation:
    """Write a store's zone values. Refused as a whole (nothing written) when any value is invalid,
    when any key is locked, unknown or not editable by the role, or when submitting content that
    fails a compliance check."""
    _require(Action.TEMPLATE_PERSONALISE)
    scope = get_scope()
    if not scope.covers_path(entity.path) or not entity.entity_type.is_local or not entity.is_active:
        raise PermissionDenied
    template = version.template
    if not version.is_published or template.status != ChannelTemplate.Status.PUBLISHED:
        raise ValidationError(_("Only a published template can be personalised."))
    if not entity.path.startswith(template.entity.path):
        raise PermissionDenied
    zone_defs, definition_errors = zones.parse_zones(version.zones)
    if definition_errors:
        raise findings_error(definition_errors)
    clean, errors = zones.validate_values(zone_defs, values, scope.role)
    if errors:
        raise findings_error(errors)
    with transaction.atomic():
        existing = Personalisation.objects.select_for_update().filter(version=version, entity=entity).first()
        merged = {**(existing.values if existing else selectors.stored_values(version, entity)), **clean}
        # Keep only keys that are still editable zones of this version.
        editable = {z.key for z in zone_defs if not z.locked}
        merged = {k: v for k, v in merged.items() if k in editable}
        if submit:
            result = selectors.preview(version, entity, merged)
            blocking = [f for f in result.findings if f.severity == ERROR]
            if blocking:
                raise findings_error(blocking)
        personalisation = existing or Personalisation(
            organisation_id=scope.organisation_id, entity=entity, version=version
        )
        personalisation.values = merged
        personalisation.updated_by_id = scope.user_id
        personalisation.status = Personalisation.Status.SUBMITTED if submit else Personalisation.Status.DRAFT
        for check in hooks.PERSONALISATION_CHECKS:  # the library: images the store may use (brand)
            check(personalisation)
        personalisation.save()
        audit.record(
            action="template.personalise",
            summary=f"{template.name} v{version.number} ({personalisation.status})",
            entity_id=entity.pk,
            data={
                "keys": sorted(clean),
                "name": template.name,
                "version": version.number,
                "status": personalisation.status,
            },
        )
    return personalisation


def settings_save(
    *,
    restricted_patterns: list[str],
    sms_advertiser: str,
    sms_opt_out: str,
    sms_price_per_segment: Any,
    sms_segment_limit: int,
) -> CreativeSettings:
    _require(Action.TEMPLATE_MANAGE)
    scope = get_scope()
    errors = compliance.validate_patterns(restricted_patterns)
    if errors:
        raise ValidationError({"restricted_patterns": errors})
    settings, _created = CreativeSettings.objects.get_or_create(organisation_id=scope.organisation_id)
    settings.restricted_patterns = restricted_patterns
    settings.sms_advertiser = sms_advertiser
    settings.sms_opt_out = sms_opt_out
    settings.sms_price_per_segment = sms_price_per_segment
    settings.sms_segment_limit = sms_segment_limit
    settings.full_clean()
    settings.save()
    audit.record(action="template.settings", summary="creative settings")
    return settings
