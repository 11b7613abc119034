"""Writes on the network. Views, the CLI, the importer and tasks all go through these functions.

Every function runs inside an active scope; objects are fetched through scoped managers, so a
foreign id raises ``DoesNotExist`` (a 404 in views) exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.roles import RANK, Action, Role, role_allows
from glocal.core.scope import get_scope

from .models import (
    DEFAULT_LOCAL_FIELDS,
    PROFILE_FIELDS,
    CustomFieldDefinition,
    Entity,
    EntityGroup,
    EntityType,
    Membership,
    Organisation,
)

# Called inside entity_move's transaction as hook(organisation_id, old_prefix, new_prefix) by apps
# that denormalise entity paths (the audience app's contact owner paths).
ENTITY_MOVE_HOOKS: list[Callable[[int, str, str], None]] = []

DEFAULT_TYPES = [
    ("hq", "Head office", False),
    ("region", "Region", False),
    ("area", "Area", False),
    ("store", "Store", True),
]


def organisation_create(
    *, name: str, slug: str | None = None, hq_code: str = "HQ", hq_name: str | None = None
) -> tuple[Organisation, Entity]:
    """Create a tenant with its default entity types and its head-office root node."""
    with transaction.atomic():
        org = Organisation.objects.create(
            name=name, slug=slug or slugify(name), locally_editable_fields=list(DEFAULT_LOCAL_FIELDS)
        )
        types = {
            code: EntityType.unscoped.create(organisation=org, code=code, label=label, is_local=is_local)
            for code, label, is_local in DEFAULT_TYPES
        }
        root = Entity.unscoped.create(
            organisation=org, entity_type=types["hq"], code=hq_code, name=hq_name or name
        )
        _set_path(root, None)
    return org, root


def _set_path(entity: Entity, parent: Entity | None) -> None:
    entity.path = f"{parent.path if parent else ''}{entity.pk}/"
    entity.depth = parent.depth + 1 if parent else 0
    Entity.unscoped.filter(pk=entity.pk).update(path=entity.path, depth=entity.depth)


def entity_create(*, parent: Entity, fields: dict[str, Any]) -> Entity:
    """Add a node under ``parent`` (which the caller fetched through the scope)."""
    scope = get_scope()
    if not parent.is_active:
        raise ValidationError(_("An entity cannot be added under a deactivated entity."))
    with transaction.atomic():
        entity = Entity(organisation_id=scope.organisation_id, parent=parent, **fields)
        entity.full_clean(exclude=["path", "parent"])
        entity.save()
        _set_path(entity, parent)
        audit.record(action="entity.create", summary=f"{entity.code} {entity.name}", entity_id=entity.pk)
    return entity


def editable_fields(entity: Entity, role: str) -> set[str]:
    """Profile fields ``role`` may change on ``entity``. Enforced again in entity_update."""
    if role_allows(role, Action.ENTITY_EDIT_ALL):
        return set(PROFILE_FIELDS)
    if role_allows(role, Action.ENTITY_EDIT_LOCAL):
        org = Organisation.objects.get(pk=entity.organisation_id)
        allowed = set(org.locally_editable_fields)
        if any(cf.locally_editable for cf in entity.organisation.custom_fields.all()):
            allowed.add("custom")
        return allowed
    return set()


def entity_update(*, entity: Entity, changes: dict[str, Any], by_role: str) -> Entity:
    """Apply profile ``changes``; any field the role may not edit is refused as a whole."""
    allowed = editable_fields(entity, by_role)
    refused = sorted(set(changes) - allowed)
    if refused:
        raise PermissionDenied(_("You may not change: %(fields)s") % {"fields": ", ".join(refused)})
    if "custom" in changes and not role_allows(by_role, Action.ENTITY_EDIT_ALL):
        local_keys = {cf.key for cf in entity.organisation.custom_fields.all() if cf.locally_editable}
        merged = dict(entity.custom)
        for key, value in changes["custom"].items():
            if key not in local_keys and merged.get(key) != value:
                raise PermissionDenied(_("You may not change: %(fields)s") % {"fields": key})
            merged[key] = value
        changes = {**changes, "custom": merged}
    with transaction.atomic():
        before = {name: getattr(entity, name) for name in changes}
        for name, value in changes.items():
            setattr(entity, name, value)
        entity.full_clean(exclude=["path", "parent"])
        entity.save()
        changed = sorted(name for name in changes if before[name] != getattr(entity, name))
        if changed:
            audit.record(
                action="entity.update",
                summary=f"{entity.code}: {', '.join(changed)}",
                entity_id=entity.pk,
                data={"code": entity.code, "fields": changed},
            )
    return entity


def entity_move(*, entity: Entity, new_parent: Entity) -> Entity:
    """Move ``entity`` and its whole subtree under ``new_parent``."""
    if entity.parent_id is None:
        raise ValidationError(_("The head office cannot be moved."))
    if new_parent.pk == entity.pk or new_parent.is_descendant_of(entity):
        raise ValidationError(_("An entity cannot be moved under itself or one of its descendants."))
    if not new_parent.is_active:
        raise ValidationError(_("An entity cannot be moved under a deactivated entity."))
    if new_parent.pk == entity.parent_id:
        return entity
    old_prefix = entity.path
    new_prefix = f"{new_parent.path}{entity.pk}/"
    depth_shift = new_parent.depth + 1 - entity.depth
    old_parent = entity.parent
    with transaction.atomic():
        Entity.objects.filter(path__startswith=old_prefix).update(
            path=Concat(Value(new_prefix), Substr("path", len(old_prefix) + 1, Length("path"))),
            depth=F("depth") + depth_shift,
        )
        Entity.objects.filter(pk=entity.pk).update(parent=new_parent)
        for hook in ENTITY_MOVE_HOOKS:
            hook(entity.organisation_id, old_prefix, new_prefix)
        audit.record(
            action="entity.move",
            summary=f"{entity.code}: {old_parent.code if old_parent else '-'} → {new_parent.code}",
            entity_id=entity.pk,
            data={"code": entity.code, "from": old_parent.code if old_parent else "", "to": new_parent.code},
        )
    entity.refresh_from_db()
    return entity


def entity_deactivate(*, entity: Entity) -> Entity:
    """Deactivate a node without deleting anything: its history, contacts and results stay."""
    if entity.parent_id is None:
        raise ValidationError(_("The head office cannot be deactivated."))
    if Entity.objects.filter(parent=entity, is_active=True).exists():
        raise ValidationError(_("Move or deactivate its active sub-entities first."))
    with transaction.atomic():
        entity.is_active = False
        entity.deactivated_at = timezone.now()
        entity.save(update_fields=["is_active", "deactivated_at", "updated_at"])
        audit.record(action="entity.deactivate", summary=entity.code, entity_id=entity.pk)
    return entity


def entity_reactivate(*, entity: Entity) -> Entity:
    if entity.parent is not None and not entity.parent.is_active:
        raise ValidationError(_("Reactivate its parent first."))
    with transaction.atomic():
        entity.is_active = True
        entity.deactivated_at = None
        entity.save(update_fields=["is_active", "deactivated_at", "updated_at"])
        audit.record(action="entity.reactivate", summary=entity.code, entity_id=entity.pk)
    return entity


def check_can_grant(*, granter_role: str, role: str) -> None:
    if not role_allows(granter_role, Action.PEOPLE_INVITE) or RANK[Role(role)] > RANK[Role(granter_role)]:
        raise PermissionDenied(_("You may not grant this role."))


def membership_grant(
    *, user_id: int, entity: Entity, role: str, by_user_id: int | None, by_role: str
) -> Membership:
    check_can_grant(granter_role=by_role, role=role)
    with transaction.atomic():
        membership, created = Membership.unscoped.get_or_create(
            user_id=user_id,
            entity=entity,
            role=role,
            defaults={"organisation_id": entity.organisation_id, "created_by_id": by_user_id},
        )
        if not created and not membership.is_active:
            membership.is_active = True
            membership.save(update_fields=["is_active"])
        audit.record(
            action="membership.grant",
            summary=f"{role} @ {entity.code}",
            entity_id=entity.pk,
            data={"user_id": user_id, "role": role, "entity": entity.code},
        )
    return membership


def membership_change_role(*, membership: Membership, role: str, by_role: str) -> Membership:
    check_can_grant(granter_role=by_role, role=role)
    check_can_grant(granter_role=by_role, role=membership.role)
    with transaction.atomic():
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            action="membership.role",
            summary=f"{old} → {role}",
            entity_id=membership.entity_id,
            data={"user_id": membership.user_id, "from": old, "to": role},
        )
    return membership


def membership_deactivate(*, membership: Membership, by_role: str, by_user_id: int | None) -> Membership:
    check_can_grant(granter_role=by_role, role=membership.role)
    if membership.user_id == by_user_id:
        raise ValidationError(_("You cannot remove your own access."))
    with transaction.atomic():
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        audit.record(
            action="membership.deactivate",
            summary=f"{membership.role}",
            entity_id=membership.entity_id,
            data={"user_id": membership.user_id, "role": membership.role},
        )
    return membership


# -- groups and settings ------------------------------------------------------------------------------


def group_save(*, group: EntityGroup, entities: Iterable[Entity]) -> EntityGroup:
    """Create or change a group (its fields already set by the caller's form) and its members."""
    created = group.pk is None
    with transaction.atomic():
        group.save()
        group.entities.set(list(entities))
        audit.record(
            action="group.create" if created else "group.update",
            summary=f"{group.code} {group.name}",
            data={"entities": sorted(group.entities.values_list("pk", flat=True))},
        )
    return group


def local_fields_set(*, organisation: Organisation, fields: list[str]) -> Organisation:
    """Which profile fields local managers may edit."""
    with transaction.atomic():
        organisation.locally_editable_fields = list(fields)
        organisation.save(update_fields=["locally_editable_fields"])
        audit.record(
            action="network.local_fields", summary=", ".join(fields) or "-", data={"fields": list(fields)}
        )
    return organisation


def custom_field_add(*, field: CustomFieldDefinition) -> CustomFieldDefinition:
    """Add a custom field definition (validated by the caller's form)."""
    with transaction.atomic():
        field.save()
        audit.record(action="network.custom_field", summary=f"{field.key} {field.label}")
    return field
