"""Central operations: creation, waves and HQ's default content, publication to the eligible
stores, each store's participation (and its wave campaigns), cancellation."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace as dc_replace
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.roles import Action, Role
from glocal.core.scope import get_scope
from glocal.creatives import services as creative_services
from glocal.creatives import zones as zonelib
from glocal.creatives.models import ChannelTemplate, TemplateVersion
from glocal.network.models import Entity

from .. import audience, selectors
from ..models import Campaign, CampaignTransition, Operation, OperationWave, Participation
from ..states import Event, State
from ._common import DEADLINE_PASSED, _require, _supersede_pending
from .settings import default_holdout, holdout_error
from .transitions import campaign_transition


def operation_create(*, fields: dict[str, Any], eligible_entities: list[Entity] | None = None) -> Operation:
    _require(Action.OPERATION_MANAGE)
    scope = get_scope()
    owner = fields.get("owner") or Entity.objects.get(pk=scope.entity_id)
    if not scope.covers_path(owner.path):
        raise PermissionDenied
    fields = {**fields, "owner": owner}
    fields["audience_criteria"] = audience.clean_criteria(fields.get("audience_criteria") or {})
    if fields["audience_criteria"].get("prospect_list"):
        raise ValidationError(_("A rented list belongs to one store's campaign, not to an operation."))
    audience.check_sources(fields["audience_criteria"], owner)  # HQ's segments (each store's contacts)
    with transaction.atomic():
        op = Operation(organisation_id=scope.organisation_id, created_by_id=scope.user_id, **fields)
        _check_operation(op)
        op.save()
        if eligible_entities is not None:
            op.eligible_entities.set(eligible_entities)
        audit.record(action="operation.create", summary=op.name, entity_id=owner.pk)
    return op


def _check_operation(op: Operation) -> None:
    op.full_clean(exclude=["eligible_entities"])
    errors: dict[str, str] = {}
    if op.holdout_percent is not None:
        problem = holdout_error(op.holdout_percent, selectors.settings_for(op.organisation_id))
        if problem:
            errors["holdout_percent"] = problem
    if op.subscription_deadline > op.personalisation_deadline:
        errors["personalisation_deadline"] = _(
            "The personalisation deadline comes after the subscription deadline."
        )
    if op.in_market_end < op.in_market_start:
        errors["in_market_end"] = _("The in-market window ends before it starts.")
    if op.eligibility == Operation.Eligibility.SUBTREE and not op.eligible_root_id:
        errors["eligible_root"] = _("Choose the entity whose stores are eligible.")
    if op.eligibility == Operation.Eligibility.GROUP and not op.eligible_group_id:
        errors["eligible_group"] = _("Choose the group of eligible stores.")
    if errors:
        raise ValidationError(errors)


def wave_add(
    *,
    operation: Operation,
    name: str,
    version: TemplateVersion,
    send_at: dt.datetime,
    zone_defaults: dict[str, Any] | None = None,
) -> OperationWave:
    _require(Action.OPERATION_MANAGE)
    if operation.status != Operation.Status.DRAFT:
        raise ValidationError(_("Waves can only be added while the operation is a draft."))
    if not version.is_published or version.template.status != ChannelTemplate.Status.PUBLISHED:
        raise ValidationError({"version": _("Only a published template can be used.")})
    if send_at < operation.personalisation_deadline:
        raise ValidationError({"send_at": _("A wave is sent after the personalisation deadline.")})
    defaults = _clean_defaults(version, zone_defaults or {})
    wave = OperationWave.objects.create(
        organisation_id=operation.organisation_id,
        operation=operation,
        name=name.strip()[:120],
        version=version,
        send_at=send_at,
        zone_defaults=defaults,
    )
    audit.record(
        action="operation.wave",
        summary=f"{operation.name}: {wave.name}",
        entity_id=operation.owner_id,
        data={"operation": operation.name, "wave": wave.name},
    )
    return wave


def _clean_defaults(
    version: TemplateVersion, values: dict[str, Any], *, complete: bool = False
) -> dict[str, Any]:
    """HQ's default zone values, validated like a store's (locked zones refused). ``complete``: every
    required zone must have a value (checked at publication; a wave may be added before its defaults)."""
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    if not complete:
        zone_defs = [dc_replace(z, required=False) for z in zone_defs]
    clean, errors = zonelib.validate_values(zone_defs, values, Role.HQ_ADMIN)
    if errors:
        raise creative_services.findings_error(errors)
    return clean


def wave_set_defaults(*, wave: OperationWave, values: dict[str, Any]) -> OperationWave:
    _require(Action.OPERATION_MANAGE)
    wave.zone_defaults = _clean_defaults(wave.version, values)
    wave.save(update_fields=["zone_defaults"])
    audit.record(
        action="operation.defaults",
        summary=f"{wave.operation.name}: {wave.name}",
        entity_id=wave.operation.owner_id,
        data={"operation": wave.operation.name, "wave": wave.name},
    )
    return wave


def operation_publish(*, operation: Operation) -> Operation:
    """Open the operation to its eligible stores: automatic and mandatory modes subscribe them all."""
    _require(Action.OPERATION_MANAGE)
    if operation.status != Operation.Status.DRAFT:
        raise ValidationError(_("Only a draft operation can be published."))
    if not operation.waves.exists():
        raise ValidationError(_("Add at least one wave first."))
    for wave in operation.waves.select_related("version"):
        try:
            _clean_defaults(wave.version, wave.zone_defaults, complete=True)
        except ValidationError:
            raise ValidationError(
                _("Give head office's default content for every required zone of “%(wave)s” first.")
                % {"wave": wave.name}
            ) from None
    auto = operation.participation != Operation.Mode.OPT_IN
    with transaction.atomic():
        operation.status = Operation.Status.PUBLISHED
        operation.save(update_fields=["status"])
        stores = list(selectors.eligible_stores(operation))
        Participation.objects.bulk_create(
            [
                Participation(
                    organisation_id=operation.organisation_id,
                    operation=operation,
                    entity=store,
                    status=Participation.Status.SUBSCRIBED if auto else Participation.Status.PENDING,
                )
                for store in stores
            ]
        )
        if auto:
            for part in Participation.objects.filter(operation=operation).select_related("entity"):
                _ensure_wave_campaigns(part)
        audit.record(
            action="operation.publish",
            summary=f"{operation.name} ({len(stores)})",
            entity_id=operation.owner_id,
        )
    return operation


def _ensure_wave_campaigns(part: Participation) -> list[Campaign]:
    """The store's instance of every wave, in draft, with HQ's defaults (the store's values for the
    template carried over when it has personalised it before)."""
    operation = part.operation
    created = []
    for wave in operation.waves.select_related("version__template"):
        if Campaign.objects.filter(wave=wave, entity=part.entity).exclude(state=State.CANCELLED).exists():
            continue
        values = {**wave.zone_defaults}
        campaign = Campaign.objects.create(
            organisation_id=operation.organisation_id,
            entity=part.entity,
            kind=Campaign.Kind.OPERATION,
            operation=operation,
            wave=wave,
            name=f"{operation.name} — {wave.name}"[:160],
            version=wave.version,
            values=values,
            audience_criteria=dict(operation.audience_criteria),
            scheduled_at=wave.send_at,
            approval_policy=operation.approval_policy,
            holdout_percent=default_holdout(selectors.settings_for(operation.organisation_id), operation),
            created_by_id=get_scope().user_id,
        )
        CampaignTransition.objects.create(
            organisation_id=campaign.organisation_id,
            campaign=campaign,
            from_state="",
            to_state=State.DRAFT,
            event="create",
            actor_id=get_scope().user_id,
        )
        created.append(campaign)
    return created


def participation_decide(*, operation: Operation, entity: Entity, subscribe: bool) -> Participation:
    """A store subscribes to, or opts out of, an operation before the subscription deadline."""
    _require(Action.CAMPAIGN_SUBMIT)
    scope = get_scope()
    if not scope.covers_path(entity.path) or not selectors.is_open_to(operation, entity):
        raise PermissionDenied
    if timezone.now() >= operation.subscription_deadline:
        raise ValidationError(DEADLINE_PASSED)
    if not subscribe and operation.participation == Operation.Mode.MANDATORY:
        raise ValidationError(_("This operation is mandatory: it cannot be declined."))
    with transaction.atomic():
        part, _created = Participation.objects.select_for_update().get_or_create(
            operation=operation, entity=entity, defaults={"organisation_id": operation.organisation_id}
        )
        part.status = Participation.Status.SUBSCRIBED if subscribe else Participation.Status.OPTED_OUT
        part.decided_by_id = scope.user_id
        part.decided_at = timezone.now()
        part.save()
        if subscribe:
            _ensure_wave_campaigns(part)
        else:
            for campaign in Campaign.objects.filter(operation=operation, entity=entity).exclude(
                state__in=[State.CANCELLED, State.SENT]
            ):
                _supersede_pending(campaign)
                campaign_transition(campaign=campaign, event=Event.CANCEL, comment=_("The store opted out."))
        audit.record(
            action="operation.subscribe" if subscribe else "operation.opt_out",
            summary=operation.name,
            entity_id=entity.pk,
        )
    return part


def operation_cancel(*, operation: Operation, comment: str = "") -> int:
    """Cancel the operation and every local instance of it: nothing of it is sent."""
    _require(Action.OPERATION_MANAGE)
    if operation.status == Operation.Status.CANCELLED:
        return 0
    count = 0
    with transaction.atomic():
        operation.status = Operation.Status.CANCELLED
        operation.save(update_fields=["status"])
        for campaign in Campaign.objects.filter(operation=operation).exclude(
            state__in=[State.CANCELLED, State.SENT]
        ):
            _supersede_pending(campaign)
            campaign_transition(
                campaign=campaign, event=Event.CANCEL, comment=comment or _("Operation cancelled.")
            )
            count += 1
        audit.record(
            action="operation.cancel", summary=f"{operation.name} ({count})", entity_id=operation.owner_id
        )
    return count
