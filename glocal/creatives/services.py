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
from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope
from glocal.network.models import Entity

from . import blocks, compliance, hooks, notify, selectors, variables, zones
from .findings import ERROR, Finding
from .models import Channel, ChannelTemplate, CreativeSettings, Personalisation, SavedBlock, TemplateVersion

STARTER_SOURCE: dict[str, str] = {
    Channel.EMAIL: (
        "<mjml>\n  <mj-body>\n    <mj-section>\n      <mj-column>\n"
        "        <mj-text>{{ zones.headline }}</mj-text>\n"
        "        <mj-text>{{ store.name }}, {{ store.full_address }}</mj-text>\n"
        '        <mj-text><a href="{{ unsubscribe_url }}">Se désabonner</a></mj-text>\n'
        "      </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n"
    ),
    # The advertiser and the opt-out mention the SMS checks require (compliance.check_sms).
    Channel.SMS: (
        "{{ organisation.sms_advertiser }} {{ store.city }} : {{ zones.message }} "
        "{{ organisation.sms_opt_out }}"
    ),
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
        source, zones_data, document = STARTER_SOURCE.get(channel, ""), STARTER_ZONES.get(channel, []), None
        if channel == Channel.EMAIL:  # an email starts in the block editor, on a blank page
            document = blocks.blank_document()
            source, zones_data = _compile_blocks(template, document)
        TemplateVersion.objects.create(
            organisation_id=scope.organisation_id,
            template=template,
            number=1,
            source=source,
            subject=name.strip() if channel == Channel.EMAIL else "",
            zones=zones_data,
            blocks=document,
        )
        audit.record(
            action="template.create",
            summary=f"{template.channel} {template.name}",
            entity_id=entity.pk,
            data={"name": template.name, "channel": template.channel},
        )
    return template


def version_save(
    *,
    template: ChannelTemplate,
    source: str,
    zones_data: Any,
    subject: str = "",
    preheader: str = "",
    text: str = "",
    blocks: Any = None,
) -> TemplateVersion:
    """Save the template's draft version (a new draft, copied forward, when the latest is published:
    published versions never change). With ``blocks`` (the block editor's document, email only) the
    source and zones are compiled from it (``source`` and ``zones_data`` are ignored); without, the
    version is MJML written by hand and keeps no block document."""
    _require(Action.TEMPLATE_MANAGE)
    _check_owner(template)
    if template.status == ChannelTemplate.Status.ARCHIVED:
        raise ValidationError(_("An archived template cannot be edited."))
    if blocks is not None:
        source, zones_data = _compile_blocks(template, blocks)
    findings = selectors.check_version_content(template.channel, source, subject, preheader, text, zones_data)
    findings += variables.check_version_variables(
        template.channel, source, subject, preheader, text, zones_data
    )
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
        version.blocks = blocks
        version.save()
        audit.record(
            action="template.save",
            summary=f"{template.name} v{version.number}",
            entity_id=template.entity_id,
            data={"editor": "blocks" if blocks is not None else "mjml"},
        )
    return version


def _compile_blocks(template: ChannelTemplate, document: Any) -> tuple[str, list[dict[str, Any]]]:
    """The MJML source and zones of a block document; its problems refuse the save."""
    if template.channel != Channel.EMAIL:
        raise ValidationError({"blocks": _("Only email templates are built from blocks.")})
    problems = blocks.validate(document)
    if problems:
        raise findings_error(problems)
    compiled = blocks.compile_document(document, checked=True)
    return compiled.source, compiled.zones


def _check_publishable(findings: list[Finding], accept_warnings: bool) -> None:
    """An error always refuses; a warning refuses unless HQ confirmed it publishes despite warnings."""
    errors = [f for f in findings if f.severity == ERROR]
    if errors:
        raise findings_error(errors)
    if findings and not accept_warnings:
        raise ValidationError(
            [ValidationError(_("Confirm that you publish despite the warnings."), code="warnings")]
            + [ValidationError(f.text, code="warnings") for f in findings]
        )


def _carry_values_over(template: ChannelTemplate, version: TemplateVersion) -> list[selectors.StoreCarry]:
    """Each store's latest values, carried to ``version`` where they still fit (a new personalisation
    in draft: the new version's content has not been submitted), with what could not be kept."""
    carries = selectors.carry_over(version, selectors.latest_personalisations(template, version.number))
    for item in carries:
        previous = item.personalisation
        Personalisation.objects.update_or_create(
            version=version,
            entity=previous.entity,
            defaults={
                "organisation_id": version.organisation_id,
                "values": item.kept,
                "status": Personalisation.Status.DRAFT,
                "updated_by_id": previous.updated_by_id,
                "carried_from": previous.version,
                "dropped": item.dropped,
            },
        )
    return carries


def _publish(
    template: ChannelTemplate,
    version: TemplateVersion,
    *,
    accept_warnings: bool,
    action: str,
    data: dict[str, Any],
) -> TemplateVersion:
    """Publish the locked ``version`` (inside the caller's transaction): the gate, the publication, the
    stores' values carried over, their managers told after commit, one audit record."""
    findings = selectors.publish_findings(version)
    _check_publishable(findings, accept_warnings)
    version.published_at = timezone.now()
    version.save(update_fields=["published_at"])
    template.status = ChannelTemplate.Status.PUBLISHED
    template.save(update_fields=["status", "updated_at"])
    carries = _carry_values_over(template, version)
    losing = [c for c in carries if c.dropped]
    audit.record(
        action=action,
        summary=f"{template.name} v{version.number}",
        entity_id=template.entity_id,
        data={
            **data,
            "name": template.name,
            "version": version.number,
            "warnings": [f.code for f in findings],
            "despite_warnings": bool(findings),
            "stores_kept": len(carries) - len(losing),
            "stores_losing": {str(c.entity.pk): [d["key"] for d in c.dropped] for c in losing},
        },
    )
    if losing:
        stores = [c.entity.pk for c in losing]
        transaction.on_commit(lambda: notify.values_dropped(version.pk, stores))
    return version


def version_publish(*, template: ChannelTemplate, accept_warnings: bool = False) -> TemplateVersion:
    """Publish the draft. Refused while its checks find an error (no override), or a warning that HQ
    has not confirmed (``accept_warnings``: "publish despite warnings", kept in the audit record).
    Every store's values are carried over to the new version where they still fit its zones; the
    stores that lose some are told (mail to their managers, notice on their personalisation page)."""
    _require(Action.TEMPLATE_MANAGE)
    _check_owner(template)
    if template.status == ChannelTemplate.Status.ARCHIVED:
        raise ValidationError(_("An archived template cannot be published."))
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update().filter(template=template).order_by("-number").first()
        )
        if version is None or version.is_published:
            raise ValidationError(_("There is no draft to publish."))
        return _publish(
            template, version, accept_warnings=accept_warnings, action="template.publish", data={}
        )


def version_restore(
    *, template: ChannelTemplate, number: int, accept_warnings: bool = False
) -> TemplateVersion:
    """Roll back: publish an earlier published version's content again, as a new version (the draft
    in progress, if any, takes that content). The same gate and the same carry-over as a publication."""
    _require(Action.TEMPLATE_MANAGE)
    _check_owner(template)
    if template.status == ChannelTemplate.Status.ARCHIVED:
        raise ValidationError(_("An archived template cannot be published."))
    with transaction.atomic():
        latest = (
            TemplateVersion.objects.select_for_update().filter(template=template).order_by("-number").first()
        )
        source = TemplateVersion.objects.filter(
            template=template, number=number, published_at__isnull=False
        ).first()
        if latest is None or source is None:
            raise ValidationError(_("Only a published version can be restored."))
        current = template.published_version()
        if current is not None and source.pk == current.pk:
            raise ValidationError(_("Version %(n)s is the published version already.") % {"n": number})
        version = (
            latest
            if not latest.is_published
            else TemplateVersion(
                organisation_id=template.organisation_id, template=template, number=latest.number + 1
            )
        )
        version.source, version.subject, version.preheader = source.source, source.subject, source.preheader
        version.text, version.zones, version.blocks = source.text, source.zones, source.blocks
        version.save()
        return _publish(
            template,
            version,
            accept_warnings=accept_warnings,
            action="template.restore",
            data={"restored": source.number},
        )


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
        personalisation.dropped = []  # the store has seen what a new version could not keep
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


# -- saved blocks ----------------------------------------------------------------------------------


def saved_block_create(*, name: str, block: Any, entity: Entity | None = None) -> SavedBlock:
    """Save a block (a section or a content block) for reuse in any email template, owned by
    ``entity`` (default: the scope's node, HQ or a region)."""
    _require(Action.TEMPLATE_MANAGE)
    scope = get_scope()
    owner = entity or Entity.objects.get(pk=scope.entity_id)
    if not scope.covers_path(owner.path) or owner.organisation_id != scope.organisation_id:
        raise PermissionDenied
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the block a name.")})
    problems = blocks.validate_block(block)
    if problems:
        raise findings_error(problems)
    saved = SavedBlock(
        organisation_id=scope.organisation_id,
        entity=owner,
        name=name[:120],
        block=blocks.duplicate(block),
        created_by_id=scope.user_id,
    )
    saved.full_clean()
    saved.save()
    audit.record(
        action="template.block_save",
        summary=saved.name,
        entity_id=owner.pk,
        data={"name": saved.name, "type": saved.kind},
    )
    return saved


def saved_block_delete(*, saved: SavedBlock) -> None:
    """Delete a saved block (the templates that inserted it keep their copy)."""
    _require(Action.TEMPLATE_MANAGE)
    if not get_scope().covers_path(saved.entity.path):
        raise PermissionDenied
    audit.record(
        action="template.block_delete",
        summary=saved.name,
        entity_id=saved.entity_id,
        data={"name": saved.name},
    )
    saved.delete()
